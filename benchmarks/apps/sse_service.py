"""Contender 3, the stream half: a separate Starlette service with sse-starlette, as in dash-extensions."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from benchmarks import tokens


async def bench_stream(request: Request) -> EventSourceResponse:
    plan = tokens.Plan.from_query(request.query_params)

    async def events() -> AsyncIterator[dict[str, str]]:
        async for delta in tokens.atokens(plan):
            yield {"data": delta}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), sep="\n")  # LF framing, as every other contender sends


async def bench_active(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(tokens.active))


app = Starlette(
    routes=[
        Route(tokens.STREAM_PATH, bench_stream, methods=["GET"]),
        Route(tokens.ACTIVE_PATH, bench_active, methods=["GET"]),
    ]
)
