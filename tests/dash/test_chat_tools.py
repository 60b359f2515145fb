"""Tool cards in a `hybrid.Chat`, in Debian's Chromium, against a real server (`tests/apps/chat_tools.py`)
in front of the simulator (through the openai SDK). Every test fails on an uncaught page error or a CSP
violation.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.apps.chat_tools import MODELS, UNSAFE_ARGUMENT, UNSAFE_NAME, UNSAFE_RESULT
from tests.conftest import Server, start_server
from tests.dash.test_ui import SIGNING
from tests.support.axe import LAYOUTS, assert_accessible, with_axe
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.watched import watched

ANSWER_START = "Streaming keeps a chat responsive"  # the simulator's answer


@pytest.fixture(scope="module")
def app(simulator: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(
        "tests.apps.chat_tools:server",
        env={"OPENAI_BASE_URL": simulator.openai_base_url},
        log=tmp_path_factory.mktemp("chat-tools") / "server.log",
    )
    yield server
    server.stop()


@pytest.fixture
def page(page: Page, app: Server) -> Iterator[Page]:
    """The app's page, loaded and watched (`tests.support.watched`)."""
    with watched(page):
        page.goto(app.url + "/")
        expect(page.locator("#assistant .empty-state")).to_be_visible()
        yield page


def send(page: Page, text: str, chat: str = "assistant") -> Locator:
    """Send `text` in `chat`; its (new) answer."""
    page.fill(f"#{chat} .chat-prompt", text)
    page.press(f"#{chat} .chat-prompt", "Enter")
    return page.locator(f"#{chat} .assistant-message").last


def wait_status(answer: Locator, status: str, timeout: float = 15_000) -> None:
    expect(answer).to_have_attribute("data-status", status, timeout=timeout)


WATCH_ARGUMENTS = """() => {
  window.__arguments = [];
  new MutationObserver(() => {
    const node = document.querySelector("#assistant .tool-call .tool-arguments");
    const text = node && node.textContent;
    if (text && window.__arguments.at(-1) !== text) window.__arguments.push(text);
  }).observe(document.getElementById("assistant"), { subtree: true, childList: true, characterData: true });
}"""
"""Records each text the first card's arguments show, as they change."""


def blocks(answer: Locator) -> list[str]:
    """The classes of an answer's blocks, in the page's order."""
    return answer.locator(".message-blocks > *").evaluate_all("nodes => nodes.map(n => n.className)")


def test_a_tool_card_streams_its_arguments_then_shows_its_result_and_time_and_the_page_changes(
    page: Page,
) -> None:
    expect(page.locator("#echo")).to_have_text("showing: Asia")
    page.evaluate(WATCH_ARGUMENTS)
    answer = send(page, "filter the page")
    card = answer.locator(".tool-call").first
    expect(card).to_have_attribute("data-status", "streaming")
    expect(card.locator(".tool-name")).to_have_text("show_only")
    expect(card).to_have_attribute("open", "")

    expect(card).to_have_attribute("data-status", "done")  # ran: its result, and folded
    seen = page.evaluate("window.__arguments")  # the arguments as they grew, piece by piece
    assert len(seen) >= 5 and seen[-1] == '{"region": "Europe"}', seen
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))

    expect(card).not_to_have_attribute("open", "")
    expect(card.locator(".tool-output")).to_have_text("showing Europe (the page showed Asia)")
    expect(card.locator(".tool-arguments")).to_have_text('{"region": "Europe"}')
    expect(page.locator("#echo")).to_have_text("showing: Europe")  # the page changed; its callback ran
    slow = answer.locator(".tool-call").nth(1)
    expect(slow).to_have_attribute("data-status", "done")
    assert 0.3 <= float(slow.locator(".tool-state").inner_text().split()[0]) < 2  # how long it took

    wait_status(answer, "done")
    assert blocks(answer) == ["tool-call", "tool-call", "message-body markdown"]
    assert answer.locator(".message-body").inner_text().startswith(ANSWER_START)
    assert "sim" in answer.locator(".message-footer").inner_text()


def test_text_thinking_and_cards_render_in_the_order_they_streamed_and_are_kept_in_the_history(
    page: Page,
) -> None:
    answer = send(page, "interleave, please")
    wait_status(answer, "done")
    order = [
        "message-body markdown",  # "Let me look."
        "reasoning",
        "tool-call",
        "tool-call",
        "message-body markdown",  # the model's answer after the round
        "reasoning",  # thinking after the answer started: in its place
        "message-body markdown",  # "All set."
    ]
    assert blocks(answer) == order
    texts = answer.locator(".message-body").all_inner_texts()
    assert texts[0] == "Let me look." and texts[1].startswith(ANSWER_START) and texts[2] == "All set."
    expect(answer.locator(".reasoning summary").nth(1)).to_contain_text("Thought for")

    page.reload()  # the history keeps the blocks, in order, folded
    kept = page.locator("#assistant .assistant-message").last
    expect(kept).to_have_attribute("data-status", "done")
    assert blocks(kept) == order
    for card in kept.locator(".tool-call").all():
        expect(card).to_have_attribute("data-status", "done")
        expect(card).not_to_have_attribute("open", "")
    expect(kept.locator(".tool-call .tool-output").first).to_have_text(
        "showing Europe (the page showed Asia)"
    )

    with page.expect_request(SIGNING) as signing:  # the next question: the model gets the text only
        send(page, "and now?")
    sent = signing.value.post_data_json["inputs"][0]["value"]["body"]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    content = sent[1]["content"]  # the text blocks, a blank line apart; no cards
    assert content.startswith("Let me look. \n\n" + ANSWER_START) and content.endswith("\n\nAll set.")
    assert "show_only" not in content and "showing Europe" not in content


def test_a_chat_with_tools_and_no_answer_function_answers_from_the_provider_with_them(
    page: Page, simulator: SimulatorProcess
) -> None:
    answer = send(page, "anything at all", chat="direct")
    wait_status(answer, "done")
    expect(answer.locator(".tool-call .tool-name")).to_have_text(["show_only", "wait"])
    expect(page.locator("#echo")).to_have_text("showing: Europe")
    assert answer.locator(".message-body").inner_text().startswith(ANSWER_START)
    offered = simulator.requests(MODELS["filter"])[-1]["tools_offered"]
    assert offered == ["show_only"]  # direct's own tools; its `wait` call is an error the model is told
    expect(answer.locator(".tool-call").nth(1)).to_have_attribute("data-status", "error")


def activity(app: Server) -> dict[str, int]:
    return httpx.get(app.url + "/test/activity", timeout=5).json()


def test_stop_during_a_tool_round_ends_the_answer_at_once_and_cancels_the_running_tool(
    page: Page, app: Server
) -> None:
    before = activity(app)
    answer = send(page, "a slow report")
    card = answer.locator(".tool-call")
    expect(card).to_have_attribute("data-status", "running")
    page.locator("#assistant .chat-stop").click()

    wait_status(answer, "stopped", timeout=2_000)
    expect(card).to_have_attribute("data-status", "stopped")
    expect(card.locator(".tool-state")).to_have_text("stopped")
    deadline = time.monotonic() + 2
    while activity(app)["finished"] == before["finished"]:  # the server cancelled the tool: its finally ran
        assert time.monotonic() < deadline, "the tool kept running after Stop"
        time.sleep(0.05)
    after = activity(app)
    assert after["started"] == before["started"] + 1 and after["cancelled"] == before["cancelled"] + 1


def test_stop_while_the_model_writes_a_call_closes_the_upstream_request(
    page: Page, simulator: SimulatorProcess
) -> None:
    answer = send(page, "filter, then stop")
    card = answer.locator(".tool-call").first
    expect(card).to_have_attribute("data-status", "streaming")
    page.locator("#assistant .chat-stop").click()

    wait_status(answer, "stopped", timeout=2_000)
    expect(card).to_have_attribute("data-status", "stopped")
    record = simulator.closed(MODELS["filter"])
    assert record["outcome"] == "client_closed"  # mid-call: the upstream request was closed


def test_a_failing_tool_shows_its_error_in_its_card_and_the_answer_goes_on(page: Page) -> None:
    answer = send(page, "fail, please")
    wait_status(answer, "done")
    card = answer.locator(".tool-call")
    expect(card).to_have_attribute("data-status", "error")
    # The exception's text (it may name hosts or paths) went to the model; the card says what failed.
    expect(card.locator(".tool-output")).to_have_text("error: the tool failed (RuntimeError)")
    expect(card.locator(".tool-state")).to_contain_text("failed")
    assert answer.locator(".message-body").inner_text().startswith(ANSWER_START)


def test_calls_still_waiting_when_the_answer_ends_show_as_not_run(page: Page) -> None:
    answer = send(page, "forever and ever")
    wait_status(answer, "error")
    expect(answer.locator(".message-error")).to_contain_text("still calling tools after 5 rounds")
    cards = answer.locator(".tool-call")
    expect(cards).to_have_count(6)
    statuses = cards.evaluate_all("nodes => nodes.map(n => n.dataset.status)")
    assert statuses == ["done"] * 5 + ["not-run"]
    expect(cards.last.locator(".tool-state")).to_have_text("not run")


def test_tool_names_arguments_and_results_never_run_as_html_or_script(page: Page) -> None:
    answer = send(page, "unsafe tools")
    wait_status(answer, "done")
    assert page.evaluate("window.__pwned") is None
    assert answer.locator("img, script, b, [onerror]").count() == 0
    cards = answer.locator(".tool-call")
    expect(cards.locator(".tool-name")).to_have_text(["echo", UNSAFE_NAME])  # the model's name, as text
    arguments = json.loads(cards.first.locator(".tool-arguments").text_content() or "")
    assert arguments == {"text": UNSAFE_ARGUMENT}
    expect(cards.first.locator(".tool-output")).to_have_text(UNSAFE_RESULT + UNSAFE_ARGUMENT)
    expect(cards.last.locator(".tool-output")).to_contain_text(f"there is no tool '{UNSAFE_NAME}'")

    page.reload()  # from the history too
    kept: Any = page.locator("#assistant .assistant-message").last
    expect(kept.locator(".tool-name")).to_have_text(["echo", UNSAFE_NAME])
    assert kept.locator("img, script, b, [onerror]").count() == 0
    assert page.evaluate("window.__pwned") is None


REPLAY = """() => {
  const events = [
    ["text", "Hi "],
    ["reasoning", "which tool?"],
    ["tool_call_delta", { index: 0, id: "c1", name: "f", arguments: '{"a"' }],
    ["tool_call_delta", { index: 0, id: "c1", name: "f", arguments: ": 1}" }],
    ["tool_call_delta", { index: 1, id: "c2", name: "g", arguments: "{}" }],
    ["tool_call", { id: "c1", name: "f", arguments: '{"a": 1}' }],
    ["tool_result", { id: "c1", name: "f", output: "ok", error: false, seconds: 0.5 }],
    ["text", "Bye"],
  ];
  const shown = (box) => [...box.children].map((node) => `${node.className}:${node.dataset.status || ""}`);
  const build = () => {
    const box = document.createElement("div");
    const message = { role: "assistant", content: "", blocks: [] };
    const view = new window.hybridChat.blocks.AnswerView(box, message, () => {});
    for (const [name, data] of events) name === "text" ? view.text(data) : view.event(name, data);
    view.end(false);
    return { box, message };
  };
  const first = build(), second = build();
  const history = document.createElement("div");
  window.hybridChat.blocks.render(history, JSON.parse(JSON.stringify(first.message)));
  const plain = (message) => JSON.stringify(message, (key, value) => (key === "ms" ? 0 : value));
  return {
    live: shown(first.box), history: shown(history), message: JSON.parse(plain(first.message)),
    same: plain(first.message) === plain(second.message),
  };
}"""


def test_the_same_events_rebuild_the_same_answer_and_the_history_draws_it_alike(page: Page) -> None:
    built = page.evaluate(REPLAY)
    shown = [
        "message-body markdown:",
        "reasoning:",
        "tool-call:done",
        "tool-call:not-run",  # heard of, never run: the answer ended first
        "message-body markdown:",
    ]
    assert built["live"] == shown and built["history"] == shown and built["same"]
    message = built["message"]
    assert message["content"] == "Hi \n\nBye"  # what the model is sent next turn: the text only
    assert message["blocks"] == [
        {"type": "text", "text": "Hi "},
        {"type": "reasoning", "text": "which tool?", "ms": 0},
        {
            "type": "tool",
            "id": "c1",
            "name": "f",
            "arguments": '{"a": 1}',
            "status": "done",
            "output": "ok",
            "seconds": 0.5,
        },
        {"type": "tool", "id": "c2", "name": "g", "arguments": "{}", "status": "not-run"},
        {"type": "text", "text": "Bye"},
    ]


def test_answers_kept_before_blocks_existed_still_show_their_thinking_and_text(page: Page) -> None:
    kept = {
        "current": "old",
        "conversations": [
            {
                "id": "old",
                "title": "before",
                "updated": 1,
                "messages": [
                    {"role": "user", "content": "before"},
                    {
                        "role": "assistant",
                        "content": "An **old** answer.",
                        "reasoning": "old thinking",
                        "reasoningMs": 1500,
                        "status": "done",
                    },
                ],
            }
        ],
    }
    # Stored as the next page starts (this page saves its own state as it goes).
    page.add_init_script(f"localStorage.setItem('hybrid.chat.v1:assistant', {json.dumps(json.dumps(kept))})")
    page.reload()
    answer = page.locator("#assistant .assistant-message")
    expect(answer.locator(".reasoning summary")).to_have_text("Thought for 1.5 s")
    assert blocks(answer) == ["reasoning", "message-body markdown"]
    expect(answer.locator(".message-body strong")).to_have_text("old")


@pytest.mark.parametrize("layout", ["light", "dark"])
def test_a_chat_with_thinking_and_tool_cards_is_accessible(
    browser: Browser, app: Server, layout: str
) -> None:
    """axe-core's WCAG 2.2 A and AA rules on a Chat in an app of one's own, its answer holding text,
    thinking and tool cards (the built-in page's layouts: `test_accessibility.py`)."""
    context = with_axe(browser.new_context(**LAYOUTS[layout]))
    try:
        page = context.new_page()
        with watched(page):
            page.goto(app.url + "/")
            expect(page.locator("#assistant .empty-state")).to_be_visible()
            assert_accessible(page, f"the Chats before an answer ({layout})", within=".hybrid-chat")
            wait_status(send(page, "interleave, please"), "done")
            where = f"a Chat after an answer with thinking and tool cards ({layout})"
            assert_accessible(page, where, within=".hybrid-chat")
    finally:
        context.close()
