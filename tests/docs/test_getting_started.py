"""docs/getting-started.md (and the README's copy of its first example), as a new user follows it: each file
saved as the page shows it, served with the page's `uvicorn` command, used in Chromium.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.docs.examples import example, save, serve_saved
from tests.support.chat_page import ask
from tests.support.watched import watched

DONE_TEXT = "the answer ends here."
"""How every answer of the demo model ends."""


def test_the_readme_shows_the_first_chat_of_getting_started_as_it_is() -> None:
    assert example("README.md", "myapp.py") == example("getting-started.md", "myapp.py")
    code_lines = [line for line in example("README.md", "myapp.py").splitlines()[1:] if line.strip()]
    assert len(code_lines) <= 15  # the promise of both pages: a chat in fifteen lines


def test_the_first_chat_streams_thinking_page_changes_and_the_models_answer(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "getting-started.md", "myapp.py")
    server = serve_saved(serve, tmp_path, "myapp:server")
    with watched(page):
        page.goto(server.url + "/")
        page.get_by_label("US").check()
        answer = ask(page, "assistant", "How did sales go?")
        expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
        expect(page.locator("#summary")).to_have_text("Filtered to US")
        expect(answer.locator(".reasoning summary")).to_contain_text("Thought for")
        answer.locator(".reasoning summary").click()
        expect(answer.locator(".reasoning-body")).to_have_text("Looking at US")
        assert answer.locator(".message-body").inner_text().endswith(DONE_TEXT)  # the demo model answered


def test_a_dash_app_moved_from_app_run_keeps_its_callbacks_under_uvicorn_reload(
    serve: Any, page: Page, tmp_path: Path
) -> None:
    save(tmp_path, "getting-started.md", "dashboard.py")
    # `uvicorn dashboard:server --reload`, watching the saved file's folder (not the test's checkout).
    server = serve_saved(serve, tmp_path, "dashboard:server", "--reload", "--reload-dir", str(tmp_path))
    with watched(page):
        page.goto(server.url + "/")
        expect(page.locator("#greeting")).to_have_text("Hello, Ada")
        page.fill("#name", "Grace")
        expect(page.locator("#greeting")).to_have_text("Hello, Grace")  # the callback runs on hybrid's server
