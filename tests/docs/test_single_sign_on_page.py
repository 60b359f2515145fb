"""docs/single-sign-on.md as a user follows it: `sso.py` saved as the page shows it, served with
`HYBRID_USER_HEADER=X-Forwarded-User uvicorn sso:server`, reached with the header (as the proxy sets it)
and without.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect

from tests.docs.examples import save, serve_saved
from tests.support.chat_page import ask
from tests.support.watched import watched

DONE_TEXT = "the answer ends here."


def test_the_page_greets_the_signed_in_user_and_refuses_requests_without_the_header(
    serve: Any, browser: Browser, tmp_path: Path
) -> None:
    save(tmp_path, "single-sign-on.md", "sso.py")
    server = serve_saved(serve, tmp_path, "sso:server", env={"HYBRID_USER_HEADER": "X-Forwarded-User"})

    refused = httpx.get(server.url + "/", timeout=10)
    assert refused.status_code == 401
    assert "error" in refused.json()

    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "ada@example.com"})
    try:
        page = context.new_page()
        with watched(page):
            page.goto(server.url + "/")
            expect(page.locator("#user")).to_have_text("Signed in as ada@example.com")
            reply = ask(page, "assistant", "Who am I?")  # the stream and its ticket go with the header too
            expect(reply).to_have_attribute("data-status", "done", timeout=15_000)
            assert reply.locator(".message-body").inner_text().endswith(DONE_TEXT)
    finally:
        context.close()
