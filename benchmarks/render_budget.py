"""S11, the render budget: what a 4,000-token markdown answer costs the chat page's main thread in Chromium.

The chat renders a growing answer block by block (finished blocks once, only the growing one again, at
most once per animation frame), so its cost is linear in the answer's length and no task should block the
page. Each round opens the built-in page in a fresh context, asks for the long answer
(`hybrid.testing.long_markdown_answer`, 2 ms a token) and reads what rendering its markdown cost
(`watch_render_cost`): time, its longest piece, frames, characters parsed; long tasks (the Long Tasks API)
and the worst input delay (how late a 20 ms timer fired). The target is the issue's: no task over 50 ms.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from benchmarks.accounting import Tally, judged
from benchmarks.contenders import Server
from benchmarks.scenarios import Sizes
from hybrid.dev.answers import long_markdown_answer
from hybrid.dev.browser import CHROMIUM, CHROMIUM_ARGS

PROBE_JS = """() => {
  window.__lag = 0;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    window.__lag = Math.max(window.__lag, now - last - 20);
    last = now;
  }, 20);
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
  }).observe({ type: "longtask" });
}"""
RENDER_COST_JS = """() => {
  const markdown = window.hybridChat.markdown;
  const views = [];
  markdown.StreamView = class extends markdown.StreamView {
    constructor(...args) {
      super(...args);
      views.push(this);
    }
  };
  window.__renderCost = () => {
    const text = views.filter((view) => view.element.matches(".message-body"));
    const sum = (key) => text.reduce((total, view) => total + view[key], 0);
    return {
      renderMs: sum("renderMs"),
      longestMs: Math.max(0, ...text.map((view) => view.longestMs)),
      frames: sum("frames"),
      parsedChars: sum("parsedChars"),
    };
  };
}"""
"""Counts every markdown view (`hybridChat.markdown.StreamView`) the page makes from now on, through a
subclass put in its place: the page's scripts make them by that name. Each view keeps its own accounting;
`window.__renderCost()` adds up the answers' text blocks' (their thinking is not the markdown budget)."""
QUESTION = "a long answer please"
TIMEOUT_MS = 60_000
Metrics = dict[str, Any]


def s11_render_budget(server: Server, sizes: Sizes) -> Metrics:
    """`sizes.s11_rounds` long answers in Chromium: medians, every round's figures and counts."""
    from playwright.sync_api import Error, sync_playwright

    url = f"http://127.0.0.1:{server.stream_port}/"
    rounds: list[Metrics] = []
    failed: Counter[str] = Counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            for _ in range(sizes.s11_rounds):
                try:
                    rounds.append(_one_answer(browser, url))
                except Error as exc:
                    failed[str(exc).splitlines()[0][:120]] += 1
        finally:
            browser.close()
    medians = {key: statistics.median(r[key] for r in rounds) for key in (rounds[0] if rounds else {})}
    tally = Tally(expected=sizes.s11_rounds, opened=sizes.s11_rounds, completed=len(rounds), failed=failed)
    return judged({**medians, "rounds": rounds}, answers=tally)


def watch_render_cost(page: Any) -> None:
    """From now on, count what rendering answers' markdown costs the page (see `RENDER_COST_JS`)."""
    page.evaluate(RENDER_COST_JS)


def render_cost(page: Any) -> Metrics:
    """What rendering the answers' text cost since `watch_render_cost`: `renderMs`, `longestMs` (its
    longest piece), `frames` and `parsedChars` (characters parsed in all)."""
    return page.evaluate("window.__renderCost()")


def _one_answer(browser: Any, url: str) -> Metrics:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.locator(".empty-state").wait_for(timeout=TIMEOUT_MS)
        page.evaluate(PROBE_JS)
        watch_render_cost(page)
        started = page.evaluate("performance.now()")
        page.fill("#prompt", QUESTION)
        page.press("#prompt", "Enter")
        page.locator('.assistant-message[data-status="done"]').wait_for(timeout=TIMEOUT_MS)
        seconds = (page.evaluate("performance.now()") - started) / 1000
        render = render_cost(page)
        long_tasks = page.evaluate("window.__longTasks")
        return {
            "tokens": len(long_markdown_answer()),
            "stream_s": round(seconds, 2),
            "render_ms": round(render["renderMs"], 1),
            "longest_render_ms": round(render["longestMs"], 1),
            "frames": render["frames"],
            "parsed_chars": render["parsedChars"],
            "long_tasks": len(long_tasks),
            "longest_task_ms": round(max(long_tasks, default=0.0), 1),
            "input_delay_ms": round(page.evaluate("window.__lag"), 1),
        }
    finally:
        context.close()
