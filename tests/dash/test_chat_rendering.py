"""How the page reads and draws an answer, in Debian's Chromium against a real server
(`tests/apps/chat_rendering.py`): tool cards keyed per call even when a model repeats its call ids; the
end of a streamed answer that holds a link reference definition, which re-renders only the blocks it may
change (counted in characters parsed, not timed); the stream parser's last event id; an answer kept
mid-stream that carries on. Each test fails on an uncaught page error or a CSP violation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hybrid.dev.answers import long_markdown_answer
from tests.conftest import Server
from tests.support.chat_page import app_server, ask, opened

app = app_server("tests.apps.chat_rendering:server")


@pytest.fixture
def page(page: Page, app: Server) -> Iterator[Page]:
    with opened(page, app.url + "/", "#twice .empty-state"):
        yield page


def test_two_calls_with_the_same_id_in_one_answer_get_a_card_each(page: Page) -> None:
    answer = ask(page, "twice", 'lookup "weather"')
    expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
    cards = answer.locator(".tool-call")
    expect(cards).to_have_count(2)
    for index in range(2):
        expect(cards.nth(index)).to_have_attribute("data-status", "done")
        expect(cards.nth(index).locator(".tool-output")).to_have_text("nothing new about weather")
    kinds = answer.locator(".message-blocks > *").evaluate_all("nodes => nodes.map(n => n.className)")
    assert kinds == ["tool-call", "message-body markdown", "tool-call", "message-body markdown"]

    page.reload()  # the history keeps both
    expect(page.locator("#twice .assistant-message .tool-call")).to_have_count(2)


STREAM_AND_FINISH = """async (text) => {
  const box = document.createElement("div");
  document.body.append(box);
  const view = new window.hybridChat.markdown.StreamView(box);
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (let at = 0; at < text.length; at += 200) {
    view.update(text.slice(0, at + 200));
    await frame();
    await frame();
  }
  const streamed = view.parsedChars;
  view.finish(text);
  const whole = document.createElement("div");
  whole.innerHTML = window.hybridChat.markdown.render(text);
  const link = (a) => `${a.textContent} -> ${a.getAttribute("href")}`;
  const links = (node) => [...node.querySelectorAll("a")].map(link);
  const words = (node) => node.textContent.replace(/\\s+/g, " ").trim();
  box.remove();
  return {
    frames: view.frames, streamed, atEnd: view.parsedChars - streamed,
    links: links(box), expected: links(whole), text: words(box), wholeText: words(whole),
  };
}"""


def test_a_reference_definition_at_the_end_re_renders_only_the_blocks_that_use_it(page: Page) -> None:
    body = "".join(long_markdown_answer(2000))
    text = (
        f"See [the spec] first.\n\n{body}\n\nAnd [the spec] again.\n\n[the spec]: https://example.com/spec\n"
    )
    result = page.evaluate(STREAM_AND_FINISH, text)

    assert result["frames"] > 20, result["frames"]  # it streamed
    assert result["links"] == result["expected"]  # as a whole render draws it: both uses are links
    assert result["links"].count("the spec -> https://example.com/spec") == 2
    assert result["text"] == result["wholeText"]
    # The end parses the blocks that name the label and the last one, not the whole answer again.
    assert result["atEnd"] < 200, (result["atEnd"], len(text))


PARSE = r"""() => {
  const seen = [];
  const parser = new window.hybridChat.sse.EventParser((name, data, id) => seen.push([name, data, id]), "7");
  const states = [];
  for (const chunk of [
    "data: before any id\n\n",
    "id: 8\ndata: a\n\n",
    "data: b\n\n",
    "id: 9\u0000\ndata: c\n\n",
    ": keep-alive\n\n",
    "id: 10\n\n",
    "retry: 500\nevent: reconnect\ndata: {}\r",
    "\n\r\n",
    "retry: 5x\nid\ndata\n\n",
  ]) {
    parser.feed(chunk);
    states.push([parser.lastEventId, parser.retry]);
  }
  return { seen, states };
}"""


def test_the_stream_parser_tracks_the_last_event_id_as_the_html_standard_defines_it(page: Page) -> None:
    parsed = page.evaluate(PARSE)
    assert parsed["seen"] == [
        ["message", "before any id", "7"],  # the id of the connection before (a resumed stream)
        ["message", "a", "8"],
        ["message", "b", "8"],  # an id holds until another comes
        ["message", "c", "8"],  # an id with NUL in it is ignored
        ["reconnect", "{}", "10"],  # a block without data dispatches nothing, but sets the id
        ["message", "", ""],  # `id` alone empties it; `data` alone is an empty line of data
    ]
    assert [retry for _, retry in parsed["states"]] == [None] * 6 + [500] * 3  # digits only
    assert [last for last, _ in parsed["states"]][4:6] == ["8", "10"]


CONTINUE = """() => {
  const events = [
    ["text", "Hi "],
    ["reasoning", "which tool?"],
    ["tool_call_delta", { id: "c1", name: "f", arguments: '{"a": 1}' }],
    ["tool_call", { id: "c1", name: "f", arguments: '{"a": 1}' }],
    ["tool_result", { id: "c1", name: "f", output: "ok", error: false, seconds: 0.5 }],
    ["tool_call_delta", { id: "c1", name: "f", arguments: '{"a"' }],
    ["text", "Bye"],
  ];
  const feed = (view, list) => {
    for (const [name, data] of list) name === "text" ? view.text(data) : view.event(name, data);
  };
  const shown = (box) => [...box.children].map((node) => `${node.className}:${node.dataset.status || ""}`);
  const { AnswerView } = window.hybridChat.blocks;
  const whole = { role: "assistant", content: "", blocks: [] };
  const wholeBox = document.createElement("div");
  feed(new AnswerView(wholeBox, whole, () => {}), events);

  const early = { role: "assistant", content: "", blocks: [] };
  feed(new AnswerView(document.createElement("div"), early, () => {}), events.slice(0, 6));
  early.blocks[1].ms = 4200;  // it thought for 4.2 s before the page left
  const kept = JSON.parse(JSON.stringify(early));  // as the history keeps it
  const box = document.createElement("div");
  const view = AnswerView.continuing(box, kept, () => {});
  feed(view, events.slice(6));
  const plain = (message) => JSON.stringify(message, (key, value) => (key === "ms" ? undefined : value));
  return {
    same: plain(kept) === plain(whole), content: kept.content, ms: kept.blocks[1].ms,
    shown: shown(box), wholeShown: shown(wholeBox),
  };
}"""


def test_an_answer_kept_mid_stream_carries_on_as_if_it_had_never_stopped(page: Page) -> None:
    carried = page.evaluate(CONTINUE)
    assert carried["same"] and carried["content"] == "Hi \n\nBye"
    assert (
        carried["shown"]
        == carried["wholeShown"]
        == [
            "message-body markdown:",
            "reasoning:",
            "tool-call:done",
            "tool-call:streaming",  # the same id after a result: a call of its own, still being written
            "message-body markdown:",
        ]
    )
    assert 4200 <= carried["ms"] < 5000  # the thinking's time survives the page leaving
