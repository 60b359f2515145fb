"""Gzip for responses that arrive whole, and the content negotiation it and Dash's files share.

Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks disconnect detection on streams). An event
stream is never compressed.
"""

from __future__ import annotations

import asyncio
import gzip

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMPRESSIBLE_TYPES = (
    b"text/",
    b"application/javascript",
    b"application/json",
    b"application/xml",
    b"application/manifest+json",
    b"image/svg+xml",
    b"image/x-icon",
    b"image/vnd.microsoft.icon",
)
"""Content types worth compressing (text, scripts, JSON, SVG and icons); never `text/event-stream`."""
EVENT_STREAM = b"text/event-stream"
INLINE_GZIP_BYTES = 16_384
"""Bodies up to this size are gzipped on the event loop (about 0.5 ms for JSON); larger ones in a thread."""


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's `Accept-Encoding` takes gzip (named, or `*`, with a q-value above 0)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            for item in value.split(b","):
                coding, _, params = item.strip().partition(b";")
                if coding.strip().lower() in (b"gzip", b"*") and not _q_zero(params):
                    return True
    return False


def _q_zero(params: bytes) -> bool:
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.strip().lower() == b"q":
            try:
                return float(value) <= 0
            except ValueError:
                return False
    return False


def compressible(content_type: bytes) -> bool:
    """Whether a response of `content_type` is worth compressing (an event stream never is)."""
    content_type = content_type.lower()
    return not content_type.startswith(EVENT_STREAM) and content_type.startswith(COMPRESSIBLE_TYPES)


def add_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with `Accept-Encoding` in their `Vary`."""
    vary = [value for name, value in headers if name == b"vary"]
    if any(b"accept-encoding" in value.lower() or value.strip() == b"*" for value in vary):
        return headers
    others = [(name, value) for name, value in headers if name != b"vary"]
    return [*others, (b"vary", b", ".join([*vary, b"Accept-Encoding"]))]


class GzipMiddleware:
    """Gzips responses that arrive whole (one body message) when the client accepts gzip.

    Dash's pages, layout, dependencies and callback answers arrive whole from `DashBridge`, each in one
    message. A response that streams (its first body message says more follows) is passed on as it is:
    compressing it would hold back what a streaming Flask route means to send now. An event stream, a
    response already encoded, a `no-transform` one, or one under `minimum_size` bytes is never touched.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        held: Message | None = None

        async def compressing_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _may_compress(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            start, held = held, None
            body = message.get("body", b"")
            if not message.get("more_body", False) and len(body) >= self.minimum_size:
                compressed = await self._compress(body)
                if len(compressed) < len(body):
                    start, message = self._gzipped(start, compressed)
            await send(start)
            await send(message)

        await self.app(scope, receive, compressing_send)

    async def _compress(self, body: bytes) -> bytes:
        if len(body) <= INLINE_GZIP_BYTES:
            return gzip.compress(body, self.level, mtime=0)
        # zlib lets go of the GIL while it works: off the loop, a large body does not stall the streams
        return await asyncio.to_thread(gzip.compress, body, self.level, mtime=0)

    @staticmethod
    def _gzipped(start: Message, body: bytes) -> tuple[Message, Message]:
        headers = []
        for name, value in start.get("headers", []):
            if name == b"etag" and not value.startswith(b"W/"):
                value = b"W/" + value  # the same content, no longer the same bytes
            if name != b"content-length":
                headers.append((name, value))
        headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
        start = {**start, "headers": add_vary(headers)}
        return start, {"type": "http.response.body", "body": body}


def _may_compress(start: Message) -> bool:
    if start["status"] in (204, 206, 304) or start["status"] < 200:
        return False
    content_type = b""
    for name, value in start.get("headers", []):
        if name == b"content-encoding" or (name == b"cache-control" and b"no-transform" in value.lower()):
            return False
        if name == b"content-type":
            content_type = value
    return compressible(content_type)
