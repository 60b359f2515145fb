"""A Dash app with what the Dash side must keep working: assets in `DASH_ASSETS` (a test's folder), a
callback with a large answer, a slow callback that holds a thread, Flask routes of the app's own that
stream (plain text and an event stream) or read the request body, and a native stream route beside
them (`/api/events`).

`/flask/closed` says how many of the Flask streams were closed (their client left, or they ended).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import AsyncIterator, Iterator

import flask
from dash import Dash, Input, Output, dcc, html
from starlette.requests import Request
from starlette.routing import Route

import hybrid

assets = os.environ.get("DASH_ASSETS") or None
dash_app = Dash(__name__, **({"assets_folder": assets} if assets else {}))
dash_app.layout = html.Div(
    [
        dcc.Input(id="size", type="number", value=0),
        html.Div(id="big"),
        html.Button("slow", id="slow-in"),
        html.Div(id="slow-out"),
        html.P("A layout long enough to be worth compressing. " * 20),
    ]
)
closed = 0
lock = threading.Lock()


@dash_app.callback(Output("big", "children"), Input("size", "value"))
def big(size: int | None) -> str:
    return "lorem ipsum dolor " * int(size or 0)


@dash_app.callback(Output("slow-out", "children"), Input("slow-in", "n_clicks"), prevent_initial_call=True)
def slow(clicks: int | None) -> str:
    time.sleep(2.0)
    return f"slept after {clicks} clicks"


def _counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
    global closed
    try:
        yield from chunks
    finally:
        with lock:
            closed += 1


@dash_app.server.get("/flask/ticks")
def ticks() -> flask.Response:
    """Ten lines of text, 100 ms apart (no length: it streams)."""

    def body() -> Iterator[bytes]:
        for index in range(10):
            yield f"tick {index} {'x' * 600}\n".encode()
            time.sleep(0.1)

    return flask.Response(_counted(body()), mimetype="text/plain")


@dash_app.server.get("/flask/events")
def events() -> flask.Response:
    """An endless event stream of Flask's own, one event every 50 ms."""

    def body() -> Iterator[bytes]:
        while True:
            yield f"data: {'y' * 600}\n\n".encode()
            time.sleep(0.05)

    return flask.Response(_counted(body()), mimetype="text/event-stream")


@dash_app.server.get("/flask/closed")
def closed_count() -> dict[str, int]:
    return {"closed": closed}


@dash_app.server.post("/flask/echo")
def echo() -> dict[str, object]:
    """What Flask saw of the request: its body's length, the mount path and the ASGI scope's path."""
    body = flask.request.get_data()
    return {
        "length": len(body),
        "script_root": flask.request.script_root,
        "scope_path": flask.request.environ["asgi.scope"]["path"],
    }


async def native_events(request: Request) -> AsyncIterator[str]:
    """A native event stream: a few words, long enough to be worth compressing if anything were."""
    for word in ["native "] * 100:
        yield word


app = hybrid.create_app(
    dash_app,
    settings=hybrid.Settings.from_env(),
    routes=[Route("/api/events", hybrid.stream_endpoint(native_events), methods=["GET"])],
)
