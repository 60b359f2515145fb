"""A browser page that fails its test on any uncaught error in the page's scripts, and on anything the
page's strict Content-Security-Policy had to block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page

from tests.test_ui import WATCH_CSP


@contextmanager
def watched(page: Page) -> Iterator[Page]:
    """`page`, watched from its next navigation on; checked when the block ends."""
    errors: list[Exception] = []
    page.on("pageerror", lambda error: errors.append(error))
    page.add_init_script(WATCH_CSP)
    yield page
    page.wait_for_timeout(50)  # events are delivered during Playwright calls: let late ones arrive
    assert not errors, f"the page threw: {errors}"
    assert page.evaluate("window.cspViolations") == [], "the page's policy blocked something"
