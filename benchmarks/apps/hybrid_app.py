"""Contender 1 (and 5): hybrid's `create_app` with the token source on a native `stream_endpoint` route."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import hybrid
from benchmarks import tokens
from benchmarks.dash_app import build_dash


def bench_stream(request: Request) -> AsyncIterator[str]:
    """The benchmark token source as a hybrid stream."""
    return tokens.atokens(tokens.Plan.from_query(request.query_params))


async def bench_active(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(tokens.active))


settings = hybrid.Settings.from_env()  # the suite sets HYBRID_SECRET_KEY (granian runs worker processes)
hybrid.configure_process(settings)  # as `hybrid.main` does: this is a hybrid server, not an embedded app
app = hybrid.create_app(
    build_dash(),
    settings=settings,
    routes=[
        Route(tokens.STREAM_PATH, hybrid.stream_endpoint(bench_stream), methods=["GET"]),
        Route(tokens.ACTIVE_PATH, bench_active, methods=["GET"]),
    ],
)
gc.freeze()
