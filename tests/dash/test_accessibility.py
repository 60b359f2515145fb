"""The built-in page and its Chat pass axe-core's WCAG 2.2 A and AA rules (no serious or critical
finding) in light, dark and phone layouts, before and after an answer (Debian's Chromium)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import Server, start_server
from tests.support.axe import LAYOUTS, assert_accessible, with_axe
from tests.support.watched import watched

pytestmark = pytest.mark.browser

ANSWER = "How does streaming work?"  # the demo answer: lists, bold, a code block wider than a phone


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server("tests.apps.chat_scripted:app", log=tmp_path_factory.mktemp("a11y") / "server.log")
    yield server
    server.stop()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_built_in_page_is_accessible_before_and_after_an_answer(
    browser: Browser, chat: Server, layout: str
) -> None:
    context = with_axe(browser.new_context(**LAYOUTS[layout]))
    try:
        page: Page = context.new_page()
        with watched(page):
            page.goto(chat.url + "/")
            page.locator(".hybrid-chat[data-config] .empty-state").wait_for()
            assert_accessible(page, f"on the empty page ({layout})")
            page.fill("#prompt", ANSWER)
            page.press("#prompt", "Enter")
            page.locator('.assistant-message[data-status="done"]').wait_for(timeout=20_000)
            assert_accessible(page, f"after an answer ({layout})")
    finally:
        context.close()
