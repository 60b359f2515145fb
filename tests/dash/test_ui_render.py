"""A 4,000-token answer renders in time linear in its length, proven without a clock.

The streaming message renders block by block (finished blocks once, only the growing one again per frame),
so the characters parsed over the whole stream stay a small multiple of the answer; re-rendering the whole
answer each frame would parse about `frames x length / 2`. What that costs in milliseconds (longest
render, tasks over 50 ms, input delay) is a performance figure, so it lives in the benchmarks: S11
(`benchmarks/render_budget.py`, `make bench`), with medians over rounds.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from benchmarks.render_budget import render_cost, watch_render_cost
from hybrid.dev.answers import long_markdown_answer
from tests.support.watched import watched_page  # noqa: F401 (a fixture: this module's `page` is watched)


def test_a_4000_token_answer_renders_in_linear_time(serve, page: Page) -> None:
    server = serve("tests.apps.chat_scripted:app")
    page.goto(server.url + "/")
    expect(page.locator(".empty-state")).to_be_visible()
    watch_render_cost(page)
    page.fill("#prompt", "a long answer please")
    page.press("#prompt", "Enter")
    expect(page.locator(".assistant-message")).to_have_attribute("data-status", "done", timeout=60_000)

    render = render_cost(page)
    length = len("".join(long_markdown_answer()))
    print(f"\n{render['frames']} frames, {render['parsedChars']} characters parsed for {length} characters")
    assert page.locator(".assistant-message .code-block").count() > 20  # it is the markdown answer
    assert render["frames"] > 50, render  # it streamed: the answer grew over many frames
    assert render["parsedChars"] < 5 * length, (render, length)
