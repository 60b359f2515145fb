"""S10, the first page load: hybrid's chat page in Chromium over a throttled link, until the prompt is usable.

Each visit is a new browser context (an empty cache: a first visit) on Debian's Chromium, driven by
Playwright, with DevTools' network emulation at `THROTTLE`. DevTools' network events give every
request, the bytes on the wire (headers included) and the decoded bytes, the `Accept-Encoding` the
browser sent and the `Content-Encoding` it got back. The page counts as usable when the chat script has
drawn the empty conversation and the prompt takes input (`USABLE_JS` records that moment with
`performance.now()`, from navigation start). A reload in the same context then measures a repeat visit.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from typing import Any

from benchmarks.accounting import Tally, judged
from benchmarks.contenders import Server
from benchmarks.scenarios import Sizes
from hybrid.dev.browser import CHROMIUM, CHROMIUM_ARGS

DOWNLINK_MBIT, UPLINK_MBIT, RTT_MS = 10.0, 5.0, 40.0
THROTTLE = {
    "offline": False,
    "latency": RTT_MS,
    "downloadThroughput": DOWNLINK_MBIT * 1e6 / 8,
    "uploadThroughput": UPLINK_MBIT * 1e6 / 8,
}
USABLE_JS = """
(() => {
  const usable = () => {
    const prompt = document.getElementById("prompt");
    return prompt && !prompt.disabled && document.querySelector(".empty-state");
  };
  new MutationObserver((_, observer) => {
    if (window.__usableAt === undefined && usable()) {
      window.__usableAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { childList: true, subtree: true, attributes: true });
})();
"""
TIMEOUT_MS = 30_000
"""Longest wait for a usable prompt, then for the network to go idle: a visit slower than that failed."""
Metrics = dict[str, Any]


class _Network:
    """What DevTools reported about one page load's requests."""

    def __init__(self, cdp: Any) -> None:
        self.requests: dict[str, dict[str, Any]] = {}
        self.cdp = cdp
        self.handlers = {
            "Network.requestWillBeSent": self._sent,
            "Network.requestWillBeSentExtraInfo": self._sent_headers,
            "Network.responseReceived": self._response,
            "Network.dataReceived": self._data,
            "Network.loadingFinished": self._finished,
            "Network.loadingFailed": self._failed,
        }
        for event, handler in self.handlers.items():
            cdp.on(event, handler)

    def stop(self) -> None:
        """Stop listening (the next load gets its own `_Network`)."""
        for event, handler in self.handlers.items():
            self.cdp.remove_listener(event, handler)

    def _request(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.requests.setdefault(event["requestId"], {"decoded": 0, "transferred": 0})

    def _sent(self, event: dict[str, Any]) -> None:
        self._request(event)["url"] = event["request"]["url"]

    def _sent_headers(self, event: dict[str, Any]) -> None:
        self._request(event)["accept_encoding"] = _header(event["headers"], "accept-encoding")

    def _response(self, event: dict[str, Any]) -> None:
        response = event["response"]
        request = self._request(event)
        request.update(status=response["status"], type=event["type"])
        request["content_encoding"] = _header(response["headers"], "content-encoding")

    def _data(self, event: dict[str, Any]) -> None:
        self._request(event)["decoded"] += event["dataLength"]

    def _finished(self, event: dict[str, Any]) -> None:
        self._request(event)["transferred"] = event["encodedDataLength"]

    def _failed(self, event: dict[str, Any]) -> None:
        self._request(event)["error"] = event.get("errorText", "failed")

    def problems(self) -> list[str]:
        """Requests that failed or answered an error status."""
        return [
            r.get("error") or f"status {r['status']}"
            for r in self.requests.values()
            if r.get("error") or r.get("status", 0) >= 400
        ]

    def totals(self) -> Metrics:
        loaded = list(self.requests.values())
        return {
            "requests": len(loaded),
            "transferred_kb": sum(r["transferred"] for r in loaded) / 1024,
            "decoded_kb": sum(r["decoded"] for r in loaded) / 1024,
            "compressed_requests": sum(1 for r in loaded if r.get("content_encoding")),
        }


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _wait_usable(page: Any) -> None:
    """Poll for `window.__usableAt` (DevTools' evaluate: `wait_for_function` would `eval` in the page,
    which the page's Content-Security-Policy forbids)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while page.evaluate("window.__usableAt") is None:
        if time.monotonic() > deadline:
            raise PlaywrightTimeout(f"the prompt was not usable within {TIMEOUT_MS} ms")
        page.wait_for_timeout(50)


def _load(page: Any, cdp: Any, navigate: Any) -> tuple[Metrics, _Network]:
    """Navigate (`navigate()`), wait until the prompt is usable and the network idle; what it took."""
    network = _Network(cdp)
    try:
        navigate()
        _wait_usable(page)
        page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    finally:
        network.stop()
    timing = page.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " return {usable: window.__usableAt, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()"
    )
    return {
        "usable_ms": timing["usable"],
        "dom_content_loaded_ms": timing["dcl"],
        "load_ms": timing["load"],
        **network.totals(),
    }, network


def _visit(browser: Any, url: str) -> tuple[Metrics, list[str], list[dict[str, Any]]]:
    """A first visit and a repeat visit (reload) in one new context: metrics, problems, first requests."""
    context = browser.new_context()
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THROTTLE)
        page.add_init_script(USABLE_JS)
        first, network = _load(page, cdp, lambda: page.goto(url, wait_until="commit"))
        repeat, again = _load(page, cdp, lambda: page.reload(wait_until="commit"))
        metrics = {**first, **{f"repeat_{k}": v for k, v in repeat.items()}}
        return metrics, network.problems() + again.problems(), list(network.requests.values())
    finally:
        context.close()


def s10_page_load(server: Server, sizes: Sizes) -> Metrics:
    """`sizes.s10_visits` first visits of the chat page: medians, every visit's figures and counts."""
    from playwright.sync_api import Error, sync_playwright

    url = f"http://127.0.0.1:{server.stream_port}/"
    visits: list[Metrics] = []
    failed: Counter[str] = Counter()
    first_requests: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            for _ in range(sizes.s10_visits):
                try:
                    metrics, problems, requests = _visit(browser, url)
                except Error as exc:  # the prompt never became usable, or the page never loaded
                    failed[str(exc).splitlines()[0][:120]] += 1
                    continue
                failed.update(problems)
                if not problems:
                    visits.append(metrics)
                first_requests = first_requests or requests
        finally:
            browser.close()
    medians = {k: statistics.median(v[k] for v in visits) for k in (visits[0] if visits else {})}
    tally = Tally(expected=sizes.s10_visits, opened=sizes.s10_visits, completed=len(visits), failed=failed)
    throttle = {"downlink_mbit": DOWNLINK_MBIT, "uplink_mbit": UPLINK_MBIT, "rtt_ms": RTT_MS}
    return judged(
        {**medians, "throttle": throttle, "visits": visits, "first_visit_requests": first_requests},
        visits=tally,
    )
