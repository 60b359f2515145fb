"""`DashBridge`: Dash (WSGI) under ASGI with one hand-off to a thread per request, where a2wsgi makes five.

a2wsgi crosses between the event loop and its worker thread for the call, every read of the body, the
start of the response, every chunk and the end; each crossing is a task, a concurrent future, a wake-up
of the loop and two hand-overs of the GIL. Measured on S6's light callback (`benchmarks/dash_bridge.py`,
the benchmark report's "Why not just Flask?"), those crossings were 37-47 % of the server's CPU per
callback.

Here the body is read on the loop first (it is small: Dash's are JSON, capped by the body limit), the
app runs in the bridge's thread pool with that body, and a response that says how long it is
(`Content-Length`, as every Dash page, layout, callback and file says) is collected in the thread and
sent in one go when the thread hands it back. A response without a length, or longer than
`buffer_bytes`, is a stream: its start and chunks go out as they come, one crossing each, as in a2wsgi,
so streaming Flask routes still stream. What a2wsgi does stays: its environ (`build_environ`:
`SCRIPT_NAME` from the mount path, the ASGI scope as `asgi.scope`), and its answers to lifespan
(complete at once) and websockets (closed). The thread pool is the caller's
(`hybrid._ops.metrics.CountingExecutor` counts its busy threads).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import itertools
from collections.abc import Iterable
from concurrent.futures import Executor, Future
from typing import Any

from a2wsgi.wsgi import build_environ
from starlette.types import Message, Receive, Scope, Send

BUFFER_BYTES = 1_048_576
"""Largest response collected in the thread and sent at once; anything longer streams chunk by chunk."""

Headers = list[tuple[bytes, bytes]]


class DashBridge:
    """The WSGI app `app` as an ASGI app, each HTTP request served by an `_Exchange` on `executor` (see the
    module's docstring)."""

    def __init__(self, app: Any, executor: Executor, buffer_bytes: int = BUFFER_BYTES) -> None:
        self.app = app
        self.executor = executor
        self.buffer_bytes = buffer_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # WSGI has none: start-up and shutdown complete at once
            await receive()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":  # a websocket: WSGI cannot serve one
            await send({"type": "websocket.close", "code": 1000})
            return
        body = await read_body(receive)
        if body is None:
            return  # the client left before it finished sending: nothing to answer
        loop = asyncio.get_running_loop()
        exchange = _Exchange(self.app, loop, receive, send, self.buffer_bytes)
        environ = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type]
        context = contextvars.copy_context()
        messages = await loop.run_in_executor(self.executor, context.run, exchange.run, environ)
        for message in messages:
            await send(message)


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client disconnected first (the body limit, if any, is
    applied by the `receive` it is given: `BodyLimitMiddleware` raises `BodyTooLarge` from it)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class ClientGone(Exception):
    """The client of a streamed response disconnected: the app's iterable is closed."""


class _Exchange:
    """One request's response, built in the worker thread: collected whole, or sent as a stream.

    A stream also watches for the client leaving (a2wsgi does not): the next chunk after a disconnect
    closes the app's iterable, so a Flask generator stops instead of producing for nobody.
    """

    def __init__(
        self, app: Any, loop: asyncio.AbstractEventLoop, receive: Receive, send: Send, buffer_bytes: int
    ) -> None:
        self.app = app
        self.loop = loop
        self.receive = receive
        self.asgi_send = send
        self.buffer_bytes = buffer_bytes
        self.started = False
        self.watcher: Future[None] | None = None
        self.gone = False
        self.status = 500
        self.headers: Headers = []
        self.written: list[bytes] = []  # by the legacy `write()` callable, before the body
        self.streaming = False

    def run(self, environ: dict[str, Any]) -> list[Message]:
        """Call the app (in the worker thread). Returns what is left to send: everything, for a response
        collected whole; nothing, for a stream (already sent from here)."""
        iterable: Iterable[bytes] = self.app(environ, self.start_response)
        try:
            chunks = iter(iterable)
            # a generator app calls start_response when it is first iterated (PEP 3333 allows it)
            first = [] if self.started else list(itertools.islice(chunks, 1))
            if self._fits():
                body = b"".join([*self.written, *first, *chunks])
                start = {"type": "http.response.start", "status": self.status, "headers": self.headers}
                return [start, {"type": "http.response.body", "body": body}]
            self._start_streaming()
            for chunk in itertools.chain(first, chunks):
                if chunk:
                    self._send({"type": "http.response.body", "body": chunk, "more_body": True})
            self._send({"type": "http.response.body", "body": b""})
            return []
        except ClientGone:
            return []
        finally:
            if self.watcher is not None:
                self.watcher.cancel()
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        """PEP 3333's `start_response`: the status and headers are kept until the body is known."""
        if exc_info is not None and self.streaming:
            raise exc_info[1].with_traceback(exc_info[2])  # headers already sent: the app must fail
        self.started = True
        self.status = int(status.split(" ", 1)[0])
        self.headers = [
            (name.strip().lower().encode("latin1"), value.strip().encode("latin1")) for name, value in headers
        ]
        return self.write

    def write(self, chunk: bytes) -> None:
        """The legacy `write()` callable of PEP 3333."""
        if self.streaming:
            self._send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            self.written.append(chunk)

    def _fits(self) -> bool:
        """Whether the response says it is at most `buffer_bytes` long (or has no body at all)."""
        if self.status in (204, 304):
            return True
        length = next((value for name, value in self.headers if name == b"content-length"), None)
        return length is not None and length.isdigit() and int(length) <= self.buffer_bytes

    def _start_streaming(self) -> None:
        self.streaming = True
        self.watcher = asyncio.run_coroutine_threadsafe(self._watch(), self.loop)
        self._send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        for chunk in self.written:
            self._send({"type": "http.response.body", "body": chunk, "more_body": True})

    async def _watch(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.gone = True

    def _send(self, message: Message) -> None:
        """Send from the worker thread, waiting until the loop has sent it (backpressure)."""
        if self.gone:
            raise ClientGone
        asyncio.run_coroutine_threadsafe(self.asgi_send(message), self.loop).result()
