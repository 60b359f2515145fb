"""A `hybrid.Chat` works wherever and whenever Dash mounts it (Debian's Chromium, a real server running
`tests/apps/chat_places.py`): on a tab that is not the default, after switching tabs (mid-answer too), on
a Dash Pages page (loaded directly or reached by a link), added by a callback, reloaded mid-answer; and
a Chat that leaves the page leaves no controller behind. Every test fails on an uncaught page error or a
CSP violation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.apps.chat_places import SLOW_TOKENS
from tests.conftest import Server
from tests.support.chat_page import app_server, ask
from tests.support.watched import watched

app = app_server("tests.apps.chat_places:server")


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    with watched(page):
        yield page


def chat(page: Page, name: str) -> Locator:
    return page.locator(f"#{name}")


def answered(page: Page, name: str, text: str) -> None:
    """The Chat `name` answers `text`, and its answer shows."""
    answer = ask(page, name, text)
    expect(answer).to_have_attribute("data-status", "done", timeout=10_000)
    expect(answer.locator(".message-body")).to_have_text(f"{name} answers: {text}")


def slow_text(name: str) -> str:
    return "".join(f"{name} token {index} " for index in range(SLOW_TOKENS)).strip()


def tab(page: Page, label: str) -> None:
    page.locator("#tabs .tab", has_text=label).click()


def test_a_chat_on_a_tab_that_is_not_the_default_starts_when_its_tab_opens(app: Server, page: Page) -> None:
    page.goto(app.url + "/")
    expect(chat(page, "first").locator(".empty-state")).to_be_visible()
    tab(page, "Second")
    expect(chat(page, "second").locator(".empty-state")).to_be_visible()
    answered(page, "second", "hello from the second tab")


def test_switching_tabs_back_and_forth_keeps_the_history_and_send_works(app: Server, page: Page) -> None:
    page.goto(app.url + "/")
    answered(page, "first", "before the switch")
    for _ in range(3):
        tab(page, "Plain")
        expect(chat(page, "first")).to_have_count(0)
        tab(page, "First")
        expect(chat(page, "first").locator(".user-message")).to_have_text(["before the switch"])
        expect(chat(page, "first").locator(".chat-send")).to_be_enabled()
    answered(page, "first", "after the switch")
    expect(chat(page, "first").locator(".user-message")).to_have_text(
        ["before the switch", "after the switch"]
    )


def test_switching_tabs_away_mid_answer_and_back_shows_the_whole_answer(app: Server, page: Page) -> None:
    page.goto(app.url + "/")
    answer = ask(page, "first", "slow, then switch")
    expect(answer.locator(".message-body")).to_contain_text("first token 3")
    tab(page, "Plain")
    page.wait_for_timeout(300)
    tab(page, "First")
    answer = chat(page, "first").locator(".assistant-message")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-status", "done", timeout=10_000)
    expect(answer.locator(".message-body")).to_have_text(slow_text("first"))
    expect(chat(page, "first").locator(".chat-stop")).to_be_disabled()
    answered(page, "first", "and once more")


def test_a_chat_on_a_dash_pages_page_starts_on_direct_load_and_after_a_link(app: Server, page: Page) -> None:
    page.goto(app.url + "/other")
    answered(page, "paged", "loaded directly")

    page.goto(app.url + "/")
    expect(chat(page, "first").locator(".empty-state")).to_be_visible()
    page.click("#to-other")
    expect(chat(page, "paged").locator(".user-message")).to_have_text(["loaded directly"])
    answered(page, "paged", "reached by a link")


def test_a_chat_added_by_a_callback_starts(app: Server, page: Page) -> None:
    page.goto(app.url + "/")
    expect(chat(page, "first").locator(".empty-state")).to_be_visible()
    page.click("#add")
    expect(chat(page, "added").locator(".empty-state")).to_be_visible()
    answered(page, "added", "hello to the newcomer")


def controllers_alive(page: Page) -> int:
    """How many Chat controllers the page's heap holds, after a garbage collection (over CDP)."""
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.enable")
        cdp.send("HeapProfiler.collectGarbage")
        prototype = cdp.send(
            "Runtime.evaluate",
            {"expression": "Object.getPrototypeOf(document.getElementById('first').hybridChat)"},
        )
        found = cdp.send("Runtime.queryObjects", {"prototypeObjectId": prototype["result"]["objectId"]})
        length = cdp.send(
            "Runtime.callFunctionOn",
            {
                "objectId": found["objects"]["objectId"],
                "functionDeclaration": "function () { return this.length; }",
                "returnByValue": True,
            },
        )
        return length["result"]["value"]
    finally:
        cdp.detach()


def test_a_chat_that_leaves_the_page_leaves_no_controller_behind(app: Server, page: Page) -> None:
    page.goto(app.url + "/")
    answered(page, "first", "a conversation to keep")
    for _ in range(4):
        tab(page, "Second")
        expect(chat(page, "second").locator(".empty-state")).to_be_visible()
        tab(page, "First")
        expect(chat(page, "first").locator(".user-message")).to_have_text(["a conversation to keep"])
    assert controllers_alive(page) == 1  # the first tab's Chat; the second's left with its tab


def test_a_reload_mid_answer_carries_on_with_the_answer_functions_answer(app: Server, page: Page) -> None:
    page.goto(app.url + "/other")
    answer = ask(page, "paged", "slow, then reload")
    expect(answer.locator(".message-body")).to_contain_text("paged token 3")
    page.reload()
    answer = chat(page, "paged").locator(".assistant-message").last
    expect(answer).to_have_attribute("data-status", "done", timeout=10_000)
    expect(answer.locator(".message-body")).to_have_text(slow_text("paged"))
