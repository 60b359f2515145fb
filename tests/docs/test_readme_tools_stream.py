"""The README's "Your own stream" snippet (Tools), run as a new user would: the two tools of the first
Tools snippet, not decorated, and the stream route built on them, served with uvicorn and asked over
HTTP, its model the simulator's (a reasoning model that calls both tools).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ROOT
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import answer, parse

CALLS = {"show_only": {"region": "Asia"}, "top_products": {"n": 2}}
MODEL = "sim+reasoning=3+tools=show_only,top_products+tool_args=" + json.dumps(CALLS, separators=(",", ":"))


def own_stream_app() -> str:
    """The first Tools snippet with its tools undecorated and its `server` line left out (the second
    snippet serves the app), then the "Your own stream" snippet, asking the model above."""
    section = (ROOT / "README.md").read_text().split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    tools, stream = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    tools = "\n".join(line for line in tools.splitlines() if not re.match(r"@chat\.tool|server = ", line))
    assert '"gpt-4o-mini"' in stream and "my_dash_app" in stream
    return tools + "\n\n" + stream.replace('"gpt-4o-mini"', repr(MODEL)).replace("my_dash_app", "app")


def test_the_readme_own_stream_snippet_streams_thinking_tool_calls_and_page_changes(
    serve: Any, tmp_path: Path, simulator: SimulatorProcess
) -> None:
    (tmp_path / "ownstream.py").write_text(own_stream_app())
    env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": simulator.openai_base_url, "HYBRID_MODEL": "sim"}
    server = serve(
        command=[sys.executable, "-m", "uvicorn", "ownstream:app", "--app-dir", str(tmp_path)], env=env
    )
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
