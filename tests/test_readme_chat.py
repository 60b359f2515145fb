"""The README's "Add a chat to your Dash app" snippet, run as a new user would: copied into a file as it
is, served with `uvicorn file:server`, used in Chromium.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import ROOT, Server
from tests.test_ui import WATCH_CSP

DONE_TEXT = "the answer ends here."


def readme_snippet() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Add a chat to your Dash app", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S)[1]  # type: ignore[index]


def test_the_readme_snippet_adds_a_streaming_chat_to_a_dash_app_with_nothing_else(
    serve, page: Page, tmp_path: Path
) -> None:
    (tmp_path / "myapp.py").write_text(readme_snippet())
    server: Server = serve(
        command=[sys.executable, "-m", "uvicorn", "myapp:server", "--app-dir", str(tmp_path)]
    )
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
