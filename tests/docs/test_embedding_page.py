"""docs/embedding.md as a user follows it: each file saved as the page shows it, served with the page's
`uvicorn` command, and spoken to as the page says: the chat mounted in FastAPI behind its authorise
hook, the audit hook's log line, the countdown stream, and a second streaming feature in Chromium.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import signed
from tests.docs.examples import save, serve_saved
from tests.support.chat_page import ask
from tests.support.sse_client import answer, parse
from tests.support.watched import watched

DONE_TEXT = "the answer ends here."
"""How every answer of the demo model ends."""
QUESTION = {"messages": [{"role": "user", "content": "Hello"}], "model": "demo"}


def test_the_chat_mounted_in_fastapi_follows_the_mount_and_asks_the_authorise_hook(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "embedding.md", "host.py")
    server = serve_saved(serve, tmp_path, "host:server")
    stream = server.url + "/chat/api/stream"

    refused = httpx.post(stream, json=signed(QUESTION, mount="/chat"), timeout=10)
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "unauthenticated"
    banned = httpx.post(stream, json=signed(QUESTION, mount="/chat"), cookies={"user": "mallory"}, timeout=10)
    assert banned.status_code == 403
    allowed = httpx.post(stream, json=signed(QUESTION, mount="/chat"), cookies={"user": "ada"}, timeout=10)
    assert allowed.status_code == 200, allowed.text
    text, done = answer(allowed.text)
    assert done and text.endswith(DONE_TEXT)

    # In a browser: the page, its scripts and its stream all under /chat/.
    page.context.add_cookies([{"name": "user", "value": "ada", "url": server.url}])
    with watched(page):
        page.goto(server.url + "/chat/")
        reply = ask(page, "chat", "Hello from the host")
        expect(reply).to_have_attribute("data-status", "done", timeout=15_000)
        assert reply.locator(".message-body").inner_text().endswith(DONE_TEXT)


def test_the_audit_hook_logs_each_answers_token_usage(serve: Any, tmp_path: Path) -> None:
    save(tmp_path, "embedding.md", "audit.py")
    server = serve_saved(serve, tmp_path, "audit:server")
    response = httpx.post(server.url + "/api/stream", json=signed(QUESTION), timeout=10)
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 5
    while "INFO:usage:demo used Usage(prompt_tokens=" not in server.output():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)


def test_the_countdown_streams_from_a_route_of_ones_own_half_a_second_apart(
    serve: Any, tmp_path: Path
) -> None:
    save(tmp_path, "embedding.md", "countdown.py")
    server = serve_saved(serve, tmp_path, "countdown:server")
    arrivals = []
    with httpx.stream("GET", server.url + "/api/countdown", timeout=15) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = ""
        for chunk in response.iter_text():
            arrivals.append(time.monotonic())
            body += chunk
    messages = [m.data for m in parse(body) if m.event == "message"]
    assert messages == [f"{n}... " for n in range(10, 0, -1)] + ["liftoff!", "[DONE]"]
    assert arrivals[-1] - arrivals[0] > 4  # streamed as it was counted (ten waits of 0.5 s), not at the end


def test_a_second_streaming_feature_explains_the_chart_in_the_page(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "embedding.md", "explain.py")
    server = serve_saved(serve, tmp_path, "explain:server")
    with watched(page):
        page.goto(server.url + "/")
        expect(page.locator("#chart .gtitle")).to_have_text("Monthly sales", timeout=15_000)
        page.get_by_role("button", name="Explain").click()
        explanation = page.locator("#explanation")
        expect(explanation).to_contain_text(DONE_TEXT, timeout=15_000)
        # The demo model answers about the question the route made from the chart's title.
        assert "'Monthly sales'" in explanation.inner_text()
