"""docs/chat.md as a user follows it: the plain answer function and the stylesheet of the page, saved as it
shows them (the stylesheet in the app's `assets/` folder), served with `uvicorn plain:server`, in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import ROOT
from tests.docs.examples import save, serve_saved
from tests.support.chat_page import ask
from tests.support.watched import watched


def stylesheet() -> str:
    """The page's CSS block: what it says to save as `assets/chat.css`."""
    page = (ROOT / "docs" / "chat.md").read_text()
    section = page.split("\n## CSS and the `--chat-*` variables\n", 1)[1]
    assert "`assets/chat.css`" in section
    return re.search(r"```css\n(.*?)```", section, re.S)[1]  # type: ignore[index]


def test_a_plain_answer_function_answers_and_refuses_with_its_own_sentence_in_the_styled_chat(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "chat.md", "plain.py")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "chat.css").write_text(stylesheet())
    server = serve_saved(serve, tmp_path, "plain:server")
    page.set_viewport_size({"width": 1000, "height": 800})
    with watched(page):
        page.goto(server.url + "/")
        expect(page.locator("#assistant")).to_contain_text("What is hybrid?")  # the example prompt, offered
        answer = ask(page, "assistant", "What is hybrid?")
        expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
        expect(answer.locator(".message-body")).to_have_text("You asked: What is hybrid?")
        expect(answer.locator(".message-body em")).to_have_text("What is hybrid?")  # markdown, rendered

        refused = ask(page, "assistant", "What is my password?")
        expect(refused).to_have_attribute("data-status", "error", timeout=15_000)
        expect(refused.locator(".message-error")).to_contain_text(
            "⚠ The answer failed: I cannot help with passwords."
        )
        expect(refused.locator(".message-error button")).to_have_text("Retry")

        # The stylesheet: the accent variable reaches Send, and the Chat takes 80 % of the window's height.
        send = page.locator("#assistant .chat-send")
        assert send.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(124, 58, 237)"
        assert page.locator("#assistant").evaluate("e => e.getBoundingClientRect().height") == 640
