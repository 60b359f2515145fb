"""A browser page that fails its test on any uncaught error in the page's scripts, and on anything the
page's Content-Security-Policy had to block, at any moment of its life (reloads and navigations included).

A page served without the policy (an app embedded in a host's that sets its own) is watched all the same:
whatever policy it has, nothing may be blocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Page

WATCH_CSP = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = `${event.violatedDirective} ${event.blockedURI} ${event.sample}`;
  window.cspViolations.push(violation);
  window.reportCspViolation?.(violation);
});
"""
"""Records what the page's Content-Security-Policy blocks (an init script: CSP does not apply to it): in
`window.cspViolations`, which each navigation empties, and to `watched` in Python, which keeps them all."""


@contextmanager
def watched(page: Page) -> Iterator[Page]:
    """`page`, watched from its next navigation on; checked when the block ends."""
    errors: list[Exception] = []
    violations: list[str] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.expose_function("reportCspViolation", lambda violation: violations.append(violation))
    page.add_init_script(WATCH_CSP)
    yield page
    page.wait_for_timeout(50)  # events are delivered during Playwright calls: let late ones arrive
    assert not errors, f"the page threw: {errors}"
    assert not violations, f"the page's policy blocked something: {violations}"


@pytest.fixture(name="page")
def watched_page(page: Page) -> Iterator[Page]:
    """The conftest's `page`, `watched`: a module imports this (`from tests.support.watched import
    watched_page`), and its tests' `page` is watched."""
    with watched(page):
        yield page
