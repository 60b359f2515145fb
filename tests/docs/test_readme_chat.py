"""The README's Chat snippets ("Add a chat to your Dash app", and the first of "Tools"), run as a new user
would: copied into a file as they are, served with `uvicorn file:server`, used in Chromium.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import ROOT, Server
from tests.support.watched import WATCH_CSP

DONE_TEXT = "the answer ends here."


def readme_snippet(heading: str = "## Add a chat to your Dash app") -> str:
    """The first python block under `heading`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n{heading}\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]  # type: ignore[index]


def serve_snippet(serve: Any, tmp_path: Path, code: str) -> Server:
    (tmp_path / "myapp.py").write_text(code)
    return serve(command=[sys.executable, "-m", "uvicorn", "myapp:server", "--app-dir", str(tmp_path)])  # type: ignore[no-any-return]


def test_the_readme_snippet_adds_a_streaming_chat_to_a_dash_app_with_nothing_else(
    serve, page: Page, tmp_path: Path
) -> None:
    server = serve_snippet(serve, tmp_path, readme_snippet())
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    page.get_by_label("US").check()
    page.fill("#assistant .chat-prompt", "How did sales go?")
    page.press("#assistant .chat-prompt", "Enter")

    answer = page.locator("#assistant .assistant-message")
    expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.locator("#summary")).to_have_text("Filtered to US")
    expect(answer.locator(".reasoning summary")).to_contain_text("Thought for")
    answer.locator(".reasoning summary").click()
    expect(answer.locator(".reasoning-body")).to_have_text("Looking at US")
    assert answer.locator(".message-body").inner_text().endswith(DONE_TEXT)  # the demo model answered
    assert page.evaluate("window.cspViolations") == []


def test_the_readme_tools_snippet_gives_a_chat_tools_the_model_calls_and_shows_as_cards(
    serve, page: Page, tmp_path: Path
) -> None:
    server = serve_snippet(serve, tmp_path, readme_snippet("## Tools"))
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    expect(page.get_by_label("Europe")).to_be_checked()
    page.fill("#assistant .chat-prompt", "Show only Asia and tell me the top two products")
    page.press("#assistant .chat-prompt", "Enter")

    answer = page.locator("#assistant .assistant-message")
    expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
    expect(answer.locator(".tool-call .tool-name")).to_have_text(["show_only", "top_products"])
    expect(page.get_by_label("Asia")).to_be_checked()  # the tool changed the page
    text = answer.locator(".message-body").inner_text()
    assert "Scooters" in text and "Bikes" in text and "Helmets" not in text  # Asia's, from the tool
    assert page.evaluate("window.cspViolations") == []
