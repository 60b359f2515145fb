"""Dash's FastAPI backend streaming the answer of `AsyncOpenAI`, as its docs and forum answers do.

`server` is `benchmarks.apps.dash_fastapi`'s, plus `POST /bench/chat`: one `openai.AsyncOpenAI()` client
per process, its parsed chunks, one SSE message per content delta, then `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
from starlette.requests import Request
from starlette.responses import StreamingResponse

from benchmarks import tokens
from benchmarks.apps.dash_fastapi import server

client = openai.AsyncOpenAI()


async def bench_chat(request: Request) -> StreamingResponse:
    body = await request.json()

    async def events() -> AsyncIterator[bytes]:
        stream = await client.chat.completions.create(
            model=body["model"], messages=body["messages"], stream=True
        )
        async for chunk in stream:
            delta = tokens.content(chunk)
            if delta:
                yield tokens.sse_message(delta)
        yield tokens.DONE

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


server.add_api_route(tokens.CHAT_PATH, bench_chat, methods=["POST"])
