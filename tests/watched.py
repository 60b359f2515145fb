"""A browser page that fails its test on any uncaught error in the page's scripts, and on anything the
page's strict Content-Security-Policy had to block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page

WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""
"""Records what the page's Content-Security-Policy blocks (an init script: CSP does not apply to it)."""


@contextmanager
def watched(page: Page) -> Iterator[Page]:
    """`page`, watched from its next navigation on; checked when the block ends."""
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.add_init_script(WATCH_CSP)
    yield page
    page.wait_for_timeout(50)  # events are delivered during Playwright calls: let late ones arrive
    assert not errors, f"the page threw: {errors}"
    if page.url.startswith("http"):
        assert page.evaluate("window.cspViolations") == [], "the page's policy blocked something"
