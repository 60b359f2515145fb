"""What a 4,000-token answer costs the page's main thread, measured in Chromium.

The streaming message renders block by block (finished blocks once, only the growing one again per frame),
so the cost stays linear in the answer's length and no single task blocks the page. The numbers are
printed (`pytest -s`) for the README; the asserts are loose bounds for a shared 2-core machine.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.apps.chat_scripted import long_answer

PROBE = """() => {
  // A 20 ms timer: how late it fires is how long input would have waited.
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


def main_thread_ms(cdp: Any) -> dict[str, float]:
    """Chromium's main-thread time so far, in ms: all tasks, and the script, style and layout in them."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    names = ("TaskDuration", "ScriptDuration", "RecalcStyleDuration", "LayoutDuration")
    return {name: metrics[name] * 1000 for name in names}


def test_a_4000_token_answer_renders_in_linear_time_and_keeps_the_page_responsive(serve, page: Page) -> None:
    server = serve("tests.apps.chat_scripted:app")
    page.goto(server.url + "/")
    expect(page.locator(".empty-state")).to_be_visible()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.evaluate(PROBE)
    before = main_thread_ms(cdp)
    started = page.evaluate("performance.now()")

    page.fill("#prompt", "a long answer please")
    page.press("#prompt", "Enter")
    expect(page.locator(".assistant-message")).to_have_attribute("data-status", "done", timeout=60_000)

    seconds = (page.evaluate("performance.now()") - started) / 1000
    after = main_thread_ms(cdp)
    spent = {name: after[name] - before[name] for name in after}
    main_thread = spent["TaskDuration"]
    render = page.evaluate("document.getElementById('chat').hybridChat.lastRender")
    long_tasks = page.evaluate("window.__longTasks")
    lag = page.evaluate("window.__lag")
    # What re-rendering the whole answer once costs: a design that did so per frame pays it every frame.
    full_render = page.evaluate(
        """() => {
          const state = JSON.parse(localStorage.getItem("hybrid.chat.v1:chat"));
          const source = state.conversations[0].messages[1].content;
          const t0 = performance.now();
          for (let i = 0; i < 5; i += 1) window.hybridChat.markdown.render(source);
          return (performance.now() - t0) / 5;
        }"""
    )
    tokens = len(long_answer())
    print(
        f"\n{tokens} tokens in {seconds:.1f} s: main thread busy {main_thread:.0f} ms "
        f"({main_thread / seconds / 10:.1f}% of the stream; script {spent['ScriptDuration']:.0f}, style "
        f"{spent['RecalcStyleDuration']:.0f}, layout {spent['LayoutDuration']:.0f}), "
        f"markdown rendering {render['renderMs']:.0f} ms "
        f"over {render['frames']} frames (longest {render['longestMs']:.1f} ms), long tasks "
        f"{len(long_tasks)} (longest {max(long_tasks, default=0):.0f} ms), worst input delay {lag:.0f} ms; "
        f"one full render of the answer {full_render:.1f} ms"
    )

    assert page.locator(".assistant-message .code-block").count() > 20  # it is the markdown answer
    assert render["longestMs"] < 50, render
    assert max(long_tasks, default=0) < 200, long_tasks
    assert lag < 200
    # Linear, not quadratic: re-rendering the whole answer each frame would cost about frames x full / 2.
    assert render["renderMs"] < full_render * render["frames"] / 10, (render, full_render)
