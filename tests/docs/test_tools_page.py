"""docs/tools.md as a user follows it: `shop.py` (a Chat with two tools) served with `uvicorn shop:server`
and used in Chromium with the demo model; `assistant.py` (the same tools in a stream route of its own)
saved beside it, served with `uvicorn assistant:server` and asked over HTTP, its model the simulator's (a
reasoning model that calls both tools).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.docs.examples import save, serve_saved
from tests.support.chat_page import ask
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import answer, parse
from tests.support.watched import watched

CALLS = {"show_only": {"region": "Asia"}, "top_products": {"n": 2}}
MODEL = "sim+reasoning=3+tools=show_only,top_products+tool_args=" + json.dumps(CALLS, separators=(",", ":"))


def test_a_chat_with_tools_calls_them_shows_them_as_cards_and_changes_the_page(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "tools.md", "shop.py")
    server = serve_saved(serve, tmp_path, "shop:server")
    with watched(page):
        page.goto(server.url + "/")
        expect(page.get_by_label("Europe")).to_be_checked()
        reply = ask(page, "assistant", "Show only Asia and tell me the top two products")
        expect(reply).to_have_attribute("data-status", "done", timeout=15_000)
        expect(reply.locator(".tool-call .tool-name")).to_have_text(["show_only", "top_products"])
        expect(page.get_by_label("Asia")).to_be_checked()  # the tool changed the page
        text = reply.locator(".message-body").inner_text()
        assert "Scooters" in text and "Bikes" in text and "Helmets" not in text  # Asia's, from the tool


def test_the_tools_in_a_stream_of_ones_own_stream_thinking_calls_results_and_page_changes(
    serve: Any, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    save(tmp_path, "tools.md", "shop.py")
    save(tmp_path, "tools.md", "assistant.py")
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": simulator.openai_base_url, "HYBRID_MODEL": MODEL}
    server = serve_saved(serve, tmp_path, "assistant:server", env=env)
    response = httpx.post(
        server.url + "/api/assistant", json={"question": "show only Asia", "region": "Europe"}, timeout=15
    )
    assert response.status_code == 200, response.text
    events = [(m.event, json.loads(m.data)) for m in parse(response.text) if m.event != "message"]
    names = [name for name, _ in events]
    assert "error" not in names, events
    assert names.index("reasoning") < names.index("tool_call_delta") < names.index("tool_call")
    assert [data["name"] for name, data in events if name == "tool_call"] == ["show_only", "top_products"]
    results = {data["name"]: data["output"] for name, data in events if name == "tool_result"}
    # top_products was not told a region: it reads the one the page showed when the user asked.
    assert results == {"show_only": "the dashboard shows Asia", "top_products": '["Bikes", "Helmets"]'}
    assert [data for name, data in events if name == "set_props"] == [
        {"id": "region", "props": {"value": "Asia"}}
    ]
    text, done = answer(response.text)
    assert done and text
    assert simulator.requests(MODEL)[-1]["tools_offered"] == ["show_only", "top_products"]
