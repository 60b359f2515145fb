"""The floor: a hand-written ASGI app that streams the token source with nothing in between."""

from __future__ import annotations

from urllib.parse import parse_qsl

from benchmarks import tokens

_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    """`GET /bench/stream?n=&ms=&wait=` as SSE; `GET /bench/active` as a number; else 404."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == tokens.ACTIVE_PATH:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(tokens.active).encode()})
        return
    if scope["path"] != tokens.STREAM_PATH:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    plan = tokens.Plan.from_query(dict(parse_qsl(scope["query_string"].decode())))
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    source = tokens.atokens(plan)
    try:
        async for delta in source:
            await send({"type": "http.response.body", "body": tokens.sse_message(delta), "more_body": True})
        await send({"type": "http.response.body", "body": tokens.DONE, "more_body": False})
    except OSError:
        pass
    finally:
        await source.aclose()
