"""Helpers for the browser tests of Chats: an app served for a test module, its page opened and watched,
a question asked in a Chat."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import Server, start_server
from tests.support.watched import watched


def app_server(app: str, **env: str) -> Callable[..., Iterator[Server]]:
    """A module-scoped fixture: `app` (`module:attribute`) served by uvicorn with `env`."""

    @pytest.fixture(scope="module")
    def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
        name = app.split(":")[0].rsplit(".", 1)[-1]
        server = start_server(app, env=env, log=tmp_path_factory.mktemp(name) / "server.log")
        yield server
        server.stop()

    return served


@contextmanager
def opened(page: Page, url: str, ready: str) -> Iterator[Page]:
    """`page` at `url`, once `ready` (a selector) shows, watched (`tests.support.watched`) until the block
    ends."""
    with watched(page):
        page.goto(url)
        expect(page.locator(ready)).to_be_visible()
        yield page


def ask(page: Page, chat: str, text: str) -> Locator:
    """Send `text` in the Chat `chat` (its DOM id); its new answer."""
    prompt = page.locator(f"#{chat} .chat-prompt")
    prompt.fill(text)
    prompt.press("Enter")
    return page.locator(f"#{chat} .assistant-message").last
