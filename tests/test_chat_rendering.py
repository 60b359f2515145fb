"""How an answer is drawn, in Debian's Chromium against a real server (`tests/apps/chat_rendering.py`):
tool cards keyed per call even when a model repeats its call ids, and the end of a streamed answer that
holds a link reference definition, which re-renders only the blocks it may change (counted in
characters parsed, not timed). Each test fails on an uncaught page error or a CSP violation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from hybrid.testing import long_markdown_answer
from tests.chat_page import app_server, ask, opened
from tests.conftest import Server

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
