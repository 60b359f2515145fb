"""A Dash developer's everyday loop under hybrid, in Chromium: Dash's dev tools (`HYBRID_DEBUG`) and
`uvicorn --reload` with an app that has a `hybrid.Chat`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.support.watched import WATCH_CSP

RELOADING_APP = """
import hybrid
from dash import Dash, html

app = Dash(__name__)
assistant = hybrid.Chat("assistant")


@assistant.answer
async def answer(messages):
    yield "VERSION answers: " + messages[-1].content


app.layout = html.Div([html.H1("VERSION", id="title"), assistant])
server = hybrid.create_app(app)
"""


def ask(page: Page, text: str) -> str:
    answers = page.locator("#assistant .assistant-message")
    count = answers.count()
    page.fill("#assistant .chat-prompt", text)
    page.press("#assistant .chat-prompt", "Enter")
    expect(answers.nth(count)).to_have_attribute("data-status", "done", timeout=15_000)
    return answers.nth(count).locator(".message-body").inner_text()


def test_dash_dev_tools_show_callback_errors_and_the_callback_graph_under_hybrid_debug(
    serve, page: Page
) -> None:
    server: Server = serve("tests.apps.chat_component:server", env={"HYBRID_DEBUG": "true"})
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    expect(page.locator("#left .empty-state")).to_be_visible()
    page.click("#boom")  # its callback divides by zero

    expect(page.locator(".dash-fe-error__title")).to_contain_text("Callback error updating boom-out.children")
    page.locator(".dash-debug-menu__button", has_text="Callbacks").click()
    expect(page.locator(".dash-callback-dag--container")).to_be_visible()
    page.fill("#left .chat-prompt", "still answering")  # the Chat works with the dev tools on
    page.press("#left .chat-prompt", "Enter")
    expect(page.locator("#left .assistant-message")).to_have_attribute("data-status", "done")
    assert page.evaluate("window.cspViolations") == []  # the dev tools run under the strict policy


def test_uvicorn_reload_restarts_a_chat_app_and_the_page_follows_with_hot_reload(
    serve, page: Page, tmp_path: Path
) -> None:
    source = tmp_path / "reloading_app.py"
    source.write_text(RELOADING_APP.replace("VERSION", "first"))
    server: Server = serve(
        command=[
            sys.executable,
            "-m",
            "uvicorn",
            "reloading_app:server",
            "--app-dir",
            str(tmp_path),
            "--reload",
            "--reload-dir",
            str(tmp_path),
        ],
        env={"HYBRID_DEBUG": "true"},
    )
    page.goto(server.url + "/")
    assert ask(page, "hello") == "first answers: hello"
    with page.expect_response("**/_reload-hash"):  # Dash's reloader has its baseline (it polls every 3 s)
        pass

    source.write_text(RELOADING_APP.replace("VERSION", "second"))  # the developer saves a change
    expect(page.locator("#title")).to_have_text("second", timeout=20_000)  # restarted; the page reloaded
    expect(page.locator("#assistant .user-message")).to_have_text(["hello"])  # the history stayed
    assert ask(page, "again") == "second answers: again"
