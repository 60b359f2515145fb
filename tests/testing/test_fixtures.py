"""The plugin's fixtures beyond what the docs' testing page shows: what `start_server` takes and refuses,
an answer that fails, a multi-line message, a page Flask serves alone, the model the tests get, and a
server that stops with its test."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from dash import Dash, State, dcc, html
from dash.testing.application_runners import ThreadedRunner

import hybrid
from hybrid.testing import ChatProblem, HybridComposite, HybridRunner
from hybrid.testing.plugin import DEMO_ENVIRONMENT


def chat_app(chat_id: str = "assistant") -> tuple[Dash, hybrid.Chat]:
    app = Dash(__name__)
    chat = hybrid.Chat(chat_id, context=[State("name", "value")], history=False)
    app.layout = html.Div([dcc.Input(id="name", value="Ada"), chat])
    return app, chat


@pytest.mark.browser
def test_a_dash_app_is_served_with_create_app_and_its_options(dash_hybrid: HybridComposite) -> None:
    app, chat = chat_app()

    @chat.answer
    async def answer(messages: list[hybrid.Message], name: str) -> AsyncIterator[str]:
        yield f"Hello {name}: "
        async for part in chat.model(messages):
            yield part

    dash_hybrid.start_server(app, settings=hybrid.Settings(max_tokens=7))
    assert dash_hybrid.server.app is not None and dash_hybrid.server.app.settings.max_tokens == 7
    dash_hybrid.send_message("assistant", "first line\nsecond line")
    answer_text = dash_hybrid.wait_for_answer("assistant")
    assert answer_text.startswith("Hello Ada: Here is a demo answer to first line second line")
    # One message of two lines, sent once (Shift+Enter added the line, Enter sent it).
    dash_hybrid.wait_for_text_to_equal("#assistant .user-message .message-body", "first line\nsecond line")
    assert len(dash_hybrid.find_elements("#assistant .assistant-message")) == 1


@pytest.mark.browser
def test_a_failed_answer_fails_the_wait_at_once_with_the_pages_words(dash_hybrid: HybridComposite) -> None:
    app, chat = chat_app()

    @chat.answer
    async def answer(messages: list[hybrid.Message], name: str) -> AsyncIterator[str]:
        yield "Looking"
        raise hybrid.StreamError("the data warehouse is offline")

    dash_hybrid.start_server(app)
    dash_hybrid.send_message("assistant", "How did sales go?")
    started = time.monotonic()
    with pytest.raises(ChatProblem, match="the data warehouse is offline"):
        dash_hybrid.wait_for_answer("assistant", timeout=30)
    assert time.monotonic() - started < 5


@pytest.mark.browser
def test_a_chat_on_a_page_flask_serves_alone_fails_naming_the_fixture(dash_hybrid: HybridComposite) -> None:
    # What dash_duo does (dash's ThreadedRunner runs app.run()): the Chat says why it cannot answer.
    app, _ = chat_app()
    with ThreadedRunner() as flask_alone:
        flask_alone.start(app)
        dash_hybrid.wait_for_page(flask_alone.url)
        with pytest.raises(ChatProblem, match=r"served by Flask alone.*the dash_hybrid fixture"):
            dash_hybrid.send_message("assistant", "hi")


def test_start_server_refuses_what_it_cannot_serve(hybrid_server: HybridRunner) -> None:
    app, _ = chat_app()
    server = hybrid.create_app(app)
    with pytest.raises(ValueError, match="pass that server to start_server"):
        hybrid_server(app)  # its Chats are served by `server` already
    with pytest.raises(TypeError, match="give them to create_app"):
        hybrid_server(server, settings=hybrid.Settings())
    with pytest.raises(TypeError, match="not str"):
        hybrid_server("myapp:server")
    assert not hybrid_server.started


@pytest.mark.server
def test_the_server_answers_with_the_demo_model_at_full_speed_and_stops_with_its_test() -> None:
    assert {name: os.environ.get(name) for name in DEMO_ENVIRONMENT} != DEMO_ENVIRONMENT  # outside a test
    with pytest.MonkeyPatch.context() as patch:
        for name, value in DEMO_ENVIRONMENT.items():
            patch.setenv(name, value)  # what the fixture sets
        app, _ = chat_app()
        with HybridRunner() as runner:
            runner(hybrid.create_app(app))
            assert runner.app is not None and runner.app.provider.name == "demo"
            settings = runner.app.settings
            assert settings.demo_ttft_ms == settings.demo_token_ms == settings.client_rate_per_minute == 0
            assert httpx.get(runner.url + "/healthz").json()["status"] == "ok"
        assert not runner.started
        with pytest.raises(httpx.ConnectError):
            httpx.get(runner.url + "/healthz")


def test_the_fixture_sets_the_demo_model_for_its_test(hybrid_server: HybridRunner) -> None:
    assert {name: os.environ.get(name) for name in DEMO_ENVIRONMENT} == DEMO_ENVIRONMENT
