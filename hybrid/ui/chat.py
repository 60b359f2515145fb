"""The chat page's layout and callbacks.

A callback hands the dash-extensions `SSE` component the stream URL (relative to wherever the app is
mounted) and the conversation as the request body; the answer renders as markdown while it streams.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import flask
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash_extensions import SSE

STREAM_PATH = "/api/stream"


def stream_url() -> str:
    """The chat stream's URL as seen by the browser, from the mount point of this request."""
    return flask.request.script_root + STREAM_PATH


def build_chat_app(*, models: Sequence[str] = ("demo",)) -> Dash:
    """The chat UI as a Dash (Flask) app, ready to mount under `hybrid.create_app`."""
    app = Dash(__name__, title="hybrid chat", update_title=None)
    app.layout = html.Main(
        className="chat",
        children=[
            html.Header(
                className="chat-header",
                children=[html.H1("hybrid"), html.Button("New chat", id="new-chat", type="button")],
            ),
            html.Div(id="conversation", className="conversation", role="log", **{"aria-live": "polite"}),
            html.Div(
                className="composer",
                children=[
                    dcc.Textarea(id="prompt", placeholder="Ask anything", className="prompt"),
                    html.Button("Send", id="send", type="button"),
                    html.Button("Stop", id="stop", type="button", disabled=True),
                ],
            ),
            dcc.Store(id="history", data=[]),
            dcc.Store(id="model", data=models[0]),
            SSE(id="sse", concat=True),
        ],
    )
    _register_callbacks(app)
    return app


def _register_callbacks(app: Dash) -> None:
    @app.callback(
        Output("history", "data"),
        Output("sse", "url"),
        Output("sse", "options"),
        Output("prompt", "value"),
        Input("send", "n_clicks"),
        Input("stop", "n_clicks"),
        Input("sse", "done"),
        Input("new-chat", "n_clicks"),
        State("prompt", "value"),
        State("history", "data"),
        State("sse", "value"),
        State("model", "data"),
        prevent_initial_call=True,
    )
    def converse(
        _send: Any, _stop: Any, done: bool, _new: Any, prompt: str | None, history: list, answer: str | None, model: str
    ) -> tuple[Any, Any, Any, Any]:
        trigger = ctx.triggered_id
        if trigger == "new-chat":
            return [], None, no_update, ""
        if trigger == "send":
            if not prompt or not prompt.strip():
                return no_update, no_update, no_update, no_update
            history = [*history, {"role": "user", "content": prompt}]
            body = json.dumps({"messages": history, "model": model})
            options = {"payload": body, "headers": {"Content-Type": "application/json"}, "method": "POST"}
            return history, stream_url(), options, ""
        if trigger == "sse" and not done:
            return no_update, no_update, no_update, no_update
        # The answer finished, or Stop: keep what arrived.
        if answer:
            history = [*history, {"role": "assistant", "content": answer}]
        return history, None, no_update, no_update

    @app.callback(
        Output("conversation", "children"),
        Output("send", "disabled"),
        Output("stop", "disabled"),
        Input("history", "data"),
        Input("sse", "value"),
        State("sse", "url"),
    )
    def render(history: list, answer: str | None, url: str | None) -> tuple[list, bool, bool]:
        bubbles = [_bubble(message["role"], message["content"]) for message in history]
        streaming = url is not None
        if streaming:
            bubbles.append(_bubble("assistant", answer or ""))
        return bubbles, streaming, not streaming


def _bubble(role: str, content: str) -> html.Div:
    body: Any = dcc.Markdown(content, link_target="_blank") if role == "assistant" else content
    return html.Div(body, className=f"message {role}-message")
