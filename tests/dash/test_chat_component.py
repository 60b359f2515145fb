"""`hybrid.Chat` in Debian's Chromium: several Chats on one page, beside other components, against a real
server (`tests/apps/chat_component.py`). Every test fails on an uncaught page error or a CSP violation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from hybrid._chat.tickets import TicketSigner
from tests.apps.chat_component import THOUGHTS
from tests.conftest import TEST_SECRET, Server, start_server
from tests.support.sse_client import answer as sse_answer
from tests.support.sse_client import parse
from tests.support.watched import watched

MAX_CONTEXT_CHARS = 2_000


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        "tests.apps.chat_component:server",
        env={"HYBRID_MAX_CONTEXT_CHARS": str(MAX_CONTEXT_CHARS)},
        log=tmp_path_factory.mktemp("chat-component") / "server.log",
    )
    yield server
    server.stop()


@pytest.fixture
def page(page: Page, app: Server) -> Iterator[Page]:
    """The app's page, loaded, failing the test on any page error or anything its CSP had to block."""
    with watched(page):
        page.goto(app.url + "/")
        for chat in ("left", "right", "scratch"):
            expect(page.locator(f"#{chat} .empty-state")).to_be_visible()
        # The initial callbacks have run, so nothing above the Chats changes height after this
        expect(page.locator("#echo")).to_have_text("echo: EU")
        yield page


def chat(page: Page, name: str) -> Locator:
    return page.locator(f"#{name}")


def send(page: Page, name: str, text: str) -> None:
    prompt = chat(page, name).locator(".chat-prompt")
    prompt.fill(text)
    prompt.press("Enter")


def answer(page: Page, name: str) -> Locator:
    return chat(page, name).locator(".assistant-message").last


def wait_status(page: Page, name: str, status: str, timeout: float = 15_000) -> None:
    expect(answer(page, name)).to_have_attribute("data-status", status, timeout=timeout)


def text_of(page: Page, name: str) -> str:
    return answer(page, name).locator(".message-body").inner_text()


def test_two_chats_stream_at_the_same_time_and_stay_apart(page: Page) -> None:
    stop = chat(page, "left").locator(".chat-stop")
    where = stop.bounding_box()
    send(page, "left", "slow alpha")
    send(page, "right", "slow beta")
    for name in ("left", "right"):  # both streaming at once
        wait_status(page, name, "streaming")
        expect(answer(page, name).locator(".message-body")).to_contain_text(f"{name} token 3")
    expect(chat(page, "left").locator(".chat-stop")).to_be_enabled()
    expect(chat(page, "right").locator(".chat-stop")).to_be_enabled()
    expect(chat(page, "scratch").locator(".chat-stop")).to_be_disabled()
    for name in ("left", "right"):
        wait_status(page, name, "done")
    assert stop.bounding_box() == where  # a growing answer does not resize its Chat
    assert "right" not in text_of(page, "left") and text_of(page, "left").strip().endswith("left token 59")
    assert "left" not in text_of(page, "right") and text_of(page, "right").strip().endswith("right token 59")
    expect(chat(page, "left").locator(".user-message")).to_have_text(["slow alpha"])
    expect(chat(page, "right").locator(".user-message")).to_have_text(["slow beta"])
    expect(chat(page, "scratch").locator(".message")).to_have_count(0)


def open_streams(server: Server) -> int:
    return httpx.get(server.url + "/healthz", timeout=5).json()["streams"]


def test_stop_in_one_chat_leaves_the_other_streaming(page: Page, app: Server) -> None:
    send(page, "left", "slow, to be stopped")
    send(page, "right", "slow, to go on")
    expect(answer(page, "left").locator(".message-body")).to_contain_text("left token 2")
    assert open_streams(app) == 2
    chat(page, "left").locator(".chat-stop").click()

    wait_status(page, "left", "stopped", timeout=2_000)
    wait_status(page, "right", "streaming")
    deadline = time.monotonic() + 2
    while open_streams(app) != 1:  # the server cancelled the stopped answer, and only that one
        assert time.monotonic() < deadline, "the stopped answer kept streaming on the server"
        time.sleep(0.05)
    stopped = text_of(page, "left")
    wait_status(page, "right", "done")
    assert text_of(page, "right").strip().endswith("right token 59")
    assert text_of(page, "left") == stopped and "left token 59" not in stopped
    expect(chat(page, "left").locator(".message-status")).to_have_text("Stopped")


def test_context_values_reach_the_answer_as_they_were_when_the_user_sent(page: Page) -> None:
    send(page, "left", "which context?")
    page.get_by_label("US").check()  # while the answer waits: too late for this question
    wait_status(page, "left", "done")
    assert text_of(page, "left") == "the region was EU"

    send(page, "left", "and the context now?")
    wait_status(page, "left", "done")
    assert text_of(page, "left") == "the region was US"


def test_set_props_changes_other_components_and_their_callbacks_run(page: Page) -> None:
    expect(page.locator("#echo")).to_have_text("echo: EU")
    send(page, "right", "set the filter")
    wait_status(page, "right", "done")

    expect(page.locator("#summary")).to_have_text("Filtered to EU")
    expect(page.get_by_label("US")).to_be_checked()
    expect(page.locator("#echo")).to_have_text("echo: US")  # Dash ran the callback on the new value
    assert text_of(page, "right") == "Changing the page. Done."


def test_reasoning_shows_apart_while_the_model_thinks_and_folds_when_the_answer_starts(page: Page) -> None:
    send(page, "left", "think first")
    reasoning = answer(page, "left").locator(".reasoning")
    expect(reasoning).to_have_attribute("open", "")
    expect(reasoning.locator("summary")).to_have_text("Thinking…")
    expect(reasoning.locator(".reasoning-body")).to_contain_text("Let me think about the question")
    assert reasoning.locator(".reasoning-body strong").inner_text() == "question"  # markdown, sanitised
    expect(answer(page, "left").locator(".message-body")).to_have_text("")  # the answer has not started

    wait_status(page, "left", "done")
    expect(reasoning).not_to_have_attribute("open", "")
    summary = reasoning.locator("summary").inner_text()
    assert summary.startswith("Thought for ") and summary.endswith(" s"), summary
    assert 0.6 <= float(summary.split()[2]) < 5  # four thoughts 250 ms apart
    assert text_of(page, "left") == "The answer after thinking."
    reasoning.locator("summary").click()  # the user can unfold it
    expect(reasoning.locator(".reasoning-body")).to_have_text("".join(THOUGHTS).replace("**", ""))

    page.reload()  # kept in the history, folded
    kept = answer(page, "left").locator(".reasoning")
    expect(kept).not_to_have_attribute("open", "")
    expect(kept.locator("summary")).to_have_text(summary)
    assert text_of(page, "left") == "The answer after thinking."


def test_model_text_in_any_part_never_runs_as_html_or_script(page: Page) -> None:
    send(page, "right", "unsafe parts")
    wait_status(page, "right", "done")
    answer(page, "right").locator(".reasoning summary").click()

    assert page.evaluate("window.__pwned") is None
    message = answer(page, "right")
    assert message.locator("img, script, iframe, [onerror]").count() == 0
    for part in (message.locator(".reasoning-body"), message.locator(".message-body")):
        assert '<img src=x onerror="window.__pwned = 1">' in part.inner_text()  # shown as text
        hrefs = part.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert hrefs == ["https://example.com/"]
    expect(page.locator("#summary")).to_have_text('<img src=x onerror="window.__pwned = 5">')
    assert page.locator("#summary img").count() == 0


def test_page_changes_that_inject_html_are_refused_by_the_server_and_by_the_page(page: Page) -> None:
    send(page, "left", "inject a form")
    wait_status(page, "left", "error")
    assert "`srcDoc`" in answer(page, "left").inner_text()  # the answer ended, naming the prop
    assert page.locator("#frame").get_attribute("srcdoc") is None

    # Should a stream carry one anyway (a proxy, a bug), the page refuses it and applies the rest.
    forged = (
        'event: set_props\ndata: {"id": "frame", "props": {"srcDoc": "<p>pwned</p>"}}\n\n'
        'event: set_props\ndata: {"id": "summary", "props": {"children": "a safe change"}}\n\n'
        "data: done\n\ndata: [DONE]\n\n"
    )
    page.route(
        "**/api/stream",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=forged),
    )
    send(page, "right", "anything")
    wait_status(page, "right", "done")
    expect(page.locator("#summary")).to_have_text("a safe change")
    assert page.locator("#frame").get_attribute("srcdoc") is None


def test_history_is_kept_per_chat_and_a_chat_can_keep_none(page: Page) -> None:
    send(page, "left", "remember the kestrel")
    send(page, "right", "remember the heron")
    send(page, "scratch", "forget the wren")
    for name in ("left", "right", "scratch"):
        wait_status(page, name, "done")

    page.reload()
    expect(chat(page, "left").locator(".user-message")).to_have_text(["remember the kestrel"])
    expect(chat(page, "right").locator(".user-message")).to_have_text(["remember the heron"])
    expect(chat(page, "scratch").locator(".empty-state")).to_be_visible()
    keys = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('hybrid.chat')).sort()")
    assert keys == ["hybrid.chat.v1:left", "hybrid.chat.v1:right"]


def test_the_provider_answers_a_chat_without_an_answer_function_and_through_chat_model(
    page: Page, app: Server
) -> None:
    send(page, "scratch", "Say hello to scratch")
    wait_status(page, "scratch", "done")
    assert text_of(page, "scratch").endswith("the answer ends here.")
    footer = answer(page, "scratch").locator(".message-footer").inner_text()
    assert footer.startswith("scripted · TTFT ") and "~" not in footer  # the provider's usage came

    send(page, "left", "ask the model")
    wait_status(page, "left", "done")
    recorded = httpx.get(app.url + "/test/requests", timeout=5).json()
    (asked,) = [r for r in recorded if r["messages"][-1]["content"] == "ask the model"]
    assert asked["messages"] == [
        {"role": "system", "content": "You explain sales data for EU."},
        {"role": "user", "content": "ask the model"},
    ]
    assert answer(page, "left").locator(".message-footer").inner_text().startswith("scripted · TTFT ")


def test_an_answer_function_that_fails_ends_with_a_visible_notice(page: Page, app: Server) -> None:
    send(page, "left", "crash, please")
    wait_status(page, "left", "error")
    expect(answer(page, "left").locator(".message-error")).to_contain_text(
        "the server hit an unexpected error"
    )
    assert "internal detail" not in answer(page, "left").inner_text()
    assert "internal detail" in app.output()  # the traceback is the developer's, in the server log

    send(page, "right", "refuse, please")
    wait_status(page, "right", "error")
    expect(answer(page, "right").locator(".message-error")).to_contain_text("the data warehouse is offline")
    assert text_of(page, "right").strip() == "partial"
    answer(page, "right").get_by_role("button", name="Retry").click()
    wait_status(page, "right", "error")


def test_context_past_the_size_limit_is_refused_in_the_chat(page: Page) -> None:
    page.fill("#notes", "n" * (MAX_CONTEXT_CHARS + 10))
    send(page, "left", "with long notes")
    wait_status(page, "left", "error")
    expect(answer(page, "left").locator(".message-error")).to_contain_text(
        f"this server takes at most {MAX_CONTEXT_CHARS:,}"
    )
    page.fill("#notes", "short")
    answer(page, "left").get_by_role("button", name="Retry").click()
    wait_status(page, "left", "done")
    assert text_of(page, "left") == "left answers: with long notes"


def test_a_chat_renders_inside_its_element_with_the_documented_classes(page: Page) -> None:
    root: Any = chat(page, "right")
    expect(root).to_have_class("hybrid-chat")
    expect(root).to_have_attribute("data-theme", "dark")
    for selector in (".chat-prompt", ".chat-send", ".chat-stop"):
        expect(root.locator(selector)).to_have_count(1)
    send(page, "right", "hello there")
    wait_status(page, "right", "done")
    expect(root.locator(".user-message")).to_have_count(1)
    expect(root.locator(".assistant-message")).to_have_count(1)
    expect(page.locator(".user-message")).to_have_count(1)  # in that Chat only


@pytest.mark.server
def test_a_plain_sse_reader_gets_the_text_alone_from_a_chat_stream(app: Server) -> None:
    ticket = TicketSigner(TEST_SECRET).issue(
        {"chat": "right", "messages": [{"role": "user", "content": "think, then set"}], "context": ["APAC"]}
    )
    with httpx.stream("POST", app.url + "/api/stream", json={"ticket": ticket}, timeout=10) as response:
        body = response.read().decode()
    assert sse_answer(body) == ("The answer after thinking.", True)  # what SSE(concat=True) shows
    events = [m.event for m in parse(body) if m.event != "message"]
    assert events == ["reasoning"] * len(THOUGHTS)

    unknown = TicketSigner(TEST_SECRET).issue({"chat": "nobody", "messages": [], "context": []})
    refused = httpx.post(app.url + "/api/stream", json={"ticket": unknown}, timeout=5)
    assert refused.status_code == 404 and refused.json()["error"]["type"] == "unknown_chat"
