"""A hybrid app with stream routes that exercise `stream_endpoint`'s edges, for tests over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from dash import Dash, Input, Output, dcc, html
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

import hybrid
from hybrid import ApiError, Event, StreamError

finished: dict[str, float] = {}
"""Wall-clock time at which each `/ticks?id=...` generator's `finally` ran."""


async def ticks(request: Request) -> AsyncIterator[str]:
    """Endless ticks every 10 ms; records when the generator was closed."""
    try:
        count = int(request.query_params.get("count", "1000000"))
        for index in range(count):
            yield f"tick {index} "
            await asyncio.sleep(0.01)
    finally:
        finished[request.query_params.get("id", "")] = time.time()


async def flood(request: Request) -> AsyncIterator[str]:
    """64 KB deltas as fast as the client takes them; records when the generator was closed."""
    chunk = "x" * 65_536
    try:
        while True:
            yield chunk
    finally:
        finished[request.query_params.get("id", "")] = time.time()


async def silent(request: Request) -> AsyncIterator[str]:
    await asyncio.sleep(float(request.query_params.get("seconds", "1")))
    yield "late"


async def broken(request: Request) -> AsyncIterator[str]:
    yield "partial answer"
    raise RuntimeError("internal detail that must not reach the page")


async def refused(request: Request) -> AsyncIterator[str]:
    yield "partial answer"
    raise StreamError("the provider is rate limiting; retry in 20 s", type="rate_limited")


async def validated(request: Request) -> AsyncIterator[str | Event]:
    """A coroutine that validates first: a bad query answers 400 JSON before any stream starts."""
    if "name" not in request.query_params:
        raise ApiError(400, "invalid_request", "`name` is required")

    async def greet() -> AsyncIterator[str | Event]:
        yield Event("meta", {"name": request.query_params["name"]})
        yield f"hello {request.query_params['name']}"

    return greet()


async def deltas(request: Request) -> AsyncIterator[str]:
    """Deltas given in the JSON body, streamed as they are."""
    for delta in (await request.json())["deltas"]:
        yield delta


async def closed_streams(request: Request) -> JSONResponse:
    return JSONResponse(finished)


def _dash_app() -> Dash:
    app = Dash(__name__)
    app.layout = html.Div([dcc.Input(id="echo-in"), html.Div(id="echo-out")])

    @app.callback(Output("echo-out", "children"), Input("echo-in", "value"))
    def echo(value: str | None) -> str:
        return f"echo: {value}"

    return app


class ReportSpecVersion:
    """Makes the app see a given ASGI spec version, whatever the server reports."""

    def __init__(self, app: ASGIApp, version: str) -> None:
        self.app = app
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = {**scope, "asgi": {**scope.get("asgi", {}), "spec_version": self.version}}
        await self.app(scope, receive, send)


app = hybrid.create_app(
    _dash_app(),
    routes=[
        Route("/ticks", hybrid.stream_endpoint(ticks, keepalive_seconds=0.2), methods=["GET"]),
        Route("/flood", hybrid.stream_endpoint(flood, send_timeout=1.0), methods=["GET"]),
        Route("/silent", hybrid.stream_endpoint(silent, keepalive_seconds=0.2), methods=["GET"]),
        Route("/broken", hybrid.stream_endpoint(broken), methods=["GET"]),
        Route("/refused", hybrid.stream_endpoint(refused), methods=["GET"]),
        Route("/validated", hybrid.stream_endpoint(validated), methods=["GET"]),
        Route("/deltas", hybrid.stream_endpoint(deltas), methods=["POST"]),
        Route("/closed", closed_streams, methods=["GET"]),
    ],
    settings=hybrid.Settings(max_body_bytes=10_000),
)
app_spec_2_3 = ReportSpecVersion(app, "2.3")
app_spec_2_4 = ReportSpecVersion(app, "2.4")
