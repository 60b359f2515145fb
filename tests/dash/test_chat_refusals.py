"""A Chat whose ticket request fails says so at once, with the server's reason (Debian's Chromium, a real
server running `tests/apps/chat_refusals.py`): refused before the signing callback runs (413 past the
body limit), failing inside it (an exception), or never reaching the server; and Dash still sends a ticket
request the way the Chat's watch of `window.fetch` (`compat-dash-fetch.js`) needs to see those refusals, so a
Dash that changes it fails here by name. Each test fails on an uncaught page error or a CSP violation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.conftest import Server
from tests.dash.test_ui import SIGNING
from tests.support.chat_page import app_server, ask, opened

BODY_LIMIT = 1_048_576  # HYBRID_MAX_BODY_BYTES's default


app = app_server("tests.apps.chat_refusals:server")


@pytest.fixture
def page(page: Page, app: Server) -> Iterator[Page]:
    with opened(page, app.url + "/", "#asker .empty-state"):
        yield page


def fails_within(answer: Locator, seconds: float, reason: str) -> None:
    """The answer ends in a visible error saying `reason` within `seconds`, with a Retry."""
    started = time.monotonic()
    expect(answer).to_have_attribute("data-status", "error", timeout=seconds * 1000)
    took = time.monotonic() - started
    expect(answer.locator(".message-error")).to_contain_text(reason)
    expect(answer.get_by_role("button", name="Retry")).to_be_visible()
    assert took < seconds, took


RECORD_DASH_CALLBACKS = """(() => {
  window.__dashCallbacks = [];
  const pageFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
    if (url.includes("_dash-update-component")) {
      window.__dashCallbacks.push({ url, body: init && typeof init.body === "string" ? init.body : null });
    }
    return pageFetch.apply(this, arguments);
  };
})();"""
"""Records Dash's callback requests as they reach `window.fetch` (an init script: beneath the Chat's own
watch of it, `compat-dash-fetch.js`, which every call passes through first)."""
CALLBACK_URL = re.compile(r"/_dash-update-component(?:[?#]|$)")  # as compat-dash-fetch.js matches it
COMPAT_CHANGED = (
    "Dash no longer posts a Chat's ticket request through window.fetch to _dash-update-component with "
    "the store's value in a JSON text body, which hybrid/_dash/chat/assets/compat-dash-fetch.js relies on "
    "to fail a refused ticket request at once (see its header). Dash's callback requests: {sent}"
)


def test_dash_sends_ticket_requests_as_the_fetch_watch_expects(page: Page) -> None:
    page.add_init_script(RECORD_DASH_CALLBACKS)
    page.reload()
    expect(page.locator("#asker .empty-state")).to_be_visible()
    answer = ask(page, "asker", "through the page's fetch")
    expect(answer).to_have_attribute("data-status", "done")

    sent = page.evaluate("window.__dashCallbacks")
    ticket_requests = [
        call
        for call in sent
        if CALLBACK_URL.search(call["url"]) and call["body"] and '"asker--ticket-request"' in call["body"]
    ]
    assert len(ticket_requests) == 1, COMPAT_CHANGED.format(sent=sent)


def test_a_context_past_the_body_limit_fails_at_once_with_the_size_message(page: Page) -> None:
    page.fill("#notes", "n" * 1_200_000)
    answer = ask(page, "asker", "with 1.2 MB of notes")
    fails_within(answer, 2, f"the request body is larger than {BODY_LIMIT} bytes")
    expect(page.locator("#asker .chat-send")).to_be_enabled()

    page.fill("#notes", "short")
    answer.get_by_role("button", name="Retry").click()
    expect(answer).to_have_attribute("data-status", "done")
    expect(answer.locator(".message-body")).to_have_text("asker answers: with 1.2 MB of notes")


def test_a_signing_callback_that_raises_fails_the_answer_at_once(page: Page, app: Server) -> None:
    answer = ask(page, "broken", "sign this")
    fails_within(answer, 2, "the server hit an unexpected error")
    assert "a bug in the signing" not in answer.inner_text()
    assert "a bug in the signing" in app.output()  # the traceback is the developer's, in the server log


def test_a_ticket_request_that_never_reaches_the_server_fails_at_once(page: Page) -> None:
    aborted: list[str] = []

    def abort(route: Route) -> None:
        aborted.append(route.request.url)
        route.abort()

    page.route(SIGNING, abort)
    answer = ask(page, "asker", "over a broken network")
    fails_within(answer, 2, "the server could not be reached")
    assert len(aborted) == 1
