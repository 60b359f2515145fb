"""The request body limit: 413 with a JSON error past `HYBRID_MAX_BODY_BYTES`, counted as bytes arrive.

Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks disconnect detection on streams).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid._errors import BodyTooLarge


class BodyLimitMiddleware:
    """Answer 413 with a JSON error when a request body exceeds `max_bytes`.

    It counts bytes as they are received, so a body without `Content-Length` is capped too; whatever the
    app was about to answer after reading too much (a2wsgi turns the refused read into a Flask error) is
    replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        limited_receive = LimitedReceive(receive, self.max_bytes)
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if limited_receive.exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await BodyTooLarge(self.max_bytes).response()(scope, receive, send)


class LimitedReceive:
    """A `receive` that raises `BodyTooLarge` once the body received passes `max_bytes`."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.exceeded = True
                raise BodyTooLarge(self.max_bytes)
        return message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
