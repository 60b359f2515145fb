"""Contender 4: Dash 4's own `backend="fastapi"`, with the SSE route added to its FastAPI server."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse

from benchmarks import tokens
from benchmarks.dash_app import build_dash

dash_app = build_dash(backend="fastapi")
server = dash_app.server


async def bench_stream(request: Request) -> StreamingResponse:
    plan = tokens.Plan.from_query(request.query_params)

    async def body() -> AsyncIterator[bytes]:
        async for delta in tokens.atokens(plan):
            yield tokens.sse_message(delta)
        yield tokens.DONE

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def bench_active(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(tokens.active))


server.add_api_route(tokens.STREAM_PATH, bench_stream, methods=["GET"])
server.add_api_route(tokens.ACTIVE_PATH, bench_active, methods=["GET"])
