"""`EventStreamResponse`: an async iterator of events, written to the client as Server-Sent Events.

The response is written directly against ASGI rather than through `sse-starlette` or Starlette's
`StreamingResponse`; `benchmarks/sse_response_cost.py` measured why (numbers in the benchmark report).
Where it differs from both, on purpose:

* the source runs in the request's own task. One watcher task cancels it when the client leaves (at any
  ASGI spec version), the supervisor at shutdown, and one self-re-arming timer when a write has been
  blocked for `send_timeout` (a client that stopped reading). The same timer sends a keep-alive comment
  when the source has been silent; no task or timer is made per event;
* writes go out one at a time (each waits for a keep-alive in flight), and every one of them (the
  keep-alive and the final empty body too) is watched by that timer, so a client that stops reading at
  any moment is dropped in time;
* a source that raises ends the stream with an `error` event, a visible notice and `[DONE]`: an answer
  never just stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hybrid._streams.endings import close_source, logger, source_ending
from hybrid._streams.hooks import OutcomeStatus, StreamOutcome
from hybrid._streams.supervisor import OpenStreams, StreamSupervisor
from hybrid._wire import sse
from hybrid._wire.sse import SHUTDOWN_NOTICE, StreamEvent

_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)
"""An event stream's own headers: never cached, never buffered by a proxy (nginx reads the last)."""
_FINAL = {"type": "http.response.body", "body": b"", "more_body": False}


class EventStreamResponse(Response):
    """`text/event-stream` response for an async iterator of events (see `stream_endpoint`).

    A client that stops reading holds at most the server's write buffer: the source waits while a write
    is blocked, and after `send_timeout` seconds of a blocked write the stream is dropped.

    `framed`: the source yields finished SSE bytes (a resumable answer's frames, see `hybrid._answers`)
    and ends with its own `[DONE]`. `reconnect_at_shutdown`: when the server shuts down, the stream ends
    with `event: reconnect` (the answer goes on, resume it elsewhere) instead of the notice.
    """

    media_type = "text/event-stream"
    _loop: asyncio.AbstractEventLoop
    _task: asyncio.Task[Any]

    def __init__(
        self,
        source: AsyncIterator[StreamEvent] | AsyncIterator[bytes],
        *,
        keepalive_seconds: float = 15.0,
        send_timeout: float = 30.0,
        supervisor: OpenStreams | None = None,
        on_close: Callable[[], None] | None = None,
        framed: bool = False,
        reconnect_at_shutdown: bool = False,
    ) -> None:
        # Not Response.__init__: it encodes the headers anew for every response, and an open stream keeps
        # them (a sixth of what hybrid adds to an idle stream's memory); these tuples are shared.
        self.status_code = 200
        self.background = None
        self.raw_headers = list(_HEADERS)
        self.source = source
        self.keepalive_seconds = keepalive_seconds
        self.send_timeout = send_timeout
        self.supervisor: OpenStreams = supervisor or StreamSupervisor()
        self.on_close = on_close
        self.framed = framed
        self.reconnect_at_shutdown = reconnect_at_shutdown
        self._outcome: OutcomeStatus | None = None  # how the stream ended, once that is decided
        self._error: str | None = None  # the error type the stream ended with, if any
        self._deltas = 0
        self._opened_at = 0.0
        self._first_delta_at: float | None = None
        self._last_write = 0.0
        self._writing_since = 0.0  # when the write in progress began; 0 when none is
        self._timer: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the source in this task; a watcher task and a timer end it early when they must."""
        self._loop = loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        self._opened_at = loop.time()
        watcher: asyncio.Task[None] | None = None
        opened = False
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            self._last_write = loop.time()
            self.supervisor.opened(self._end_for_shutdown)
            opened = True
            watcher = loop.create_task(self._watch_disconnect(receive))
            self._timer = loop.call_later(min(self.keepalive_seconds, self.send_timeout), self._check, send)
            await self._pump(send)
            await self._write(send, _FINAL)
            self._outcome = self._outcome or ("failed" if self._error else "finished")
        except asyncio.CancelledError:
            if self._outcome is None or self._task.uncancel():
                raise  # cancelled by the server, not by this response
            await self._after_stop(send)
        except OSError:  # the client left while we wrote
            self._outcome = self._outcome or "cancelled"
        finally:
            for pending in (self._timer, watcher, self._keepalive):
                if pending is not None:
                    pending.cancel()
            if self.on_close is not None:
                self.on_close()
            if opened:
                self.supervisor.closed(self._end_for_shutdown, self._outcome_record())

    def _stop(self, reason: OutcomeStatus) -> None:
        """End the stream for `reason` by cancelling its task (once, and not after it ended)."""
        if self._outcome is None:
            self._outcome = reason
            self._task.cancel()

    def _end_for_shutdown(self) -> None:
        self._stop("shutdown")

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stop("cancelled")

    async def _after_stop(self, send: Send) -> None:
        """Finish a stream that `_stop` cancelled; the source is closed already."""
        if self._outcome == "shutdown":
            # A keep-alive blocked now would hold the notice back until the client drops: give it up.
            keepalive, self._keepalive = self._keepalive, None
            if keepalive is not None:
                keepalive.cancel()
                await asyncio.wait([keepalive])
            if self.reconnect_at_shutdown:
                last = sse.RECONNECT
            else:
                last = sse.failure("shutdown", SHUTDOWN_NOTICE)
                self._error = "shutdown"
            # The timer no longer drops this stream (it is stopped already), so these writes have a bound
            # of their own.
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(self.send_timeout):
                    await self._write(send, self._body(last))
                    await self._write(send, _FINAL)
        elif self._outcome == "slow_consumer":
            logger.warning("dropped a stream whose client stopped reading for %.0f s", self.send_timeout)

    def _check(self, send: Send) -> None:
        """Timer: drop a client that stopped reading; keep a silent stream alive. Re-arms itself."""
        now = self._loop.time()
        if self._writing_since:
            blocked = now - self._writing_since
            if blocked >= self.send_timeout:
                self._stop("slow_consumer")
                return
            wait = self.send_timeout - blocked
        else:
            silence = now - self._last_write
            if silence >= self.keepalive_seconds:
                # The source is silent, so this task waits on it: the comment goes out from a task of its
                # own, and the next write waits for it (`_write`, `_pump`), so writes never overlap.
                self._keepalive = self._loop.create_task(self._keep_alive(send))
                silence = 0.0
            # A write may block any moment from now: look again within the send timeout.
            wait = min(self.keepalive_seconds - silence, self.send_timeout)
        self._timer = self._loop.call_later(wait, self._check, send)

    async def _keep_alive(self, send: Send) -> None:
        with contextlib.suppress(OSError):  # the client left: the watcher ends the stream
            await self._send(send, self._body(sse.KEEPALIVE))

    async def _keepalive_done(self) -> None:
        """Wait for the keep-alive comment in flight, if any: one write at a time."""
        keepalive, self._keepalive = self._keepalive, None
        if keepalive is not None:
            await keepalive

    async def _pump(self, send: Send) -> None:
        """Write the source's events as they come, then `[DONE]` or the failure; always close the source.

        This loop runs once per token, so it writes inline (no coroutine per event) and keeps its
        bookkeeping in locals: two clock reads and a few attribute stores per event. `writing` tells an
        `OSError` of its own write (the client left) from one the source raised (a failed answer), even
        while a keep-alive of the timer's is being written.
        """
        encode = sse.MessageEncoder().message
        now = self._loop.time
        source = self.source
        deltas = 0
        writing = False
        try:
            async for item in source:
                if type(item) is str:
                    data = encode(item)
                    if not data:
                        continue
                    if not deltas:
                        self._first_delta_at = now()
                    deltas += 1
                elif type(item) is bytes:
                    data = item  # a frame, encoded already
                else:
                    data = item.encode()  # type: ignore[union-attr]
                writing = True
                if self._keepalive is not None:
                    await self._keepalive_done()
                self._writing_since = started = now()
                await send({"type": "http.response.body", "body": data, "more_body": True})
                self._writing_since = 0.0
                self._last_write = started
                writing = False
        except Exception as exc:
            if writing and isinstance(exc, OSError):
                raise  # the write failed: the client left
            ending, self._error = source_ending(exc)
            await self._write(send, self._body(ending))
        else:
            if not self.framed:
                await self._write(send, self._body(sse.DONE))
        finally:
            self._deltas = deltas
            await close_source(source)

    @staticmethod
    def _body(chunk: bytes) -> dict[str, Any]:
        return {"type": "http.response.body", "body": chunk, "more_body": True}

    async def _write(self, send: Send, message: dict[str, Any]) -> None:
        """Send one message once the keep-alive in flight is out, watched by the timer while it is blocked."""
        if self._keepalive is not None:
            await self._keepalive_done()
        await self._send(send, message)

    async def _send(self, send: Send, message: dict[str, Any]) -> None:
        """Send one message now (the keep-alive's own write), watched by the timer while it is blocked.

        A write that fails stops the clock too: the client left, it is not reading slowly.
        """
        self._writing_since = started = self._loop.time()
        try:
            await send(message)
        finally:
            self._writing_since = 0.0
        self._last_write = started

    def _outcome_record(self) -> StreamOutcome:
        first = self._first_delta_at
        return StreamOutcome(
            status=self._outcome or "cancelled",
            error=self._error,
            deltas=self._deltas,
            first_delta_seconds=None if first is None else first - self._opened_at,
            duration_seconds=self._loop.time() - self._opened_at,
        )
