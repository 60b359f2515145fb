"""`stream_endpoint`: a Starlette endpoint that streams an async iterator of text deltas as SSE.

The response is written directly against ASGI rather than through `sse-starlette` or Starlette's
`StreamingResponse`; `benchmarks/sse_response_cost.py` measured why (numbers in the README). Per stream it
runs the generator in the request's own task; a small watcher task cancels it when the client leaves,
the app's supervisor when the server shuts down, and a timer when the client stops reading. The same
timer sends a keep-alive comment when the generator has been silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from hybrid import sse
from hybrid.auth import authorize
from hybrid.errors import ApiError, StreamError
from hybrid.limits import ClientLimiter, Release, release_once
from hybrid.logs import bind_request_id
from hybrid.middleware import BodyTooLarge

logger = logging.getLogger("hybrid.stream")


@dataclass(frozen=True, slots=True)
class Event:
    """A named event (`event: name`) with JSON `data`, for metadata beside the text.

    A plain `SSE(concat=True)` component ignores named events; hybrid's chat page reads them.
    """

    name: str
    data: Any

    def encode(self) -> bytes:
        return sse.event(self.name, self.data)


StreamStatus = Literal["finished", "failed", "cancelled", "shutdown", "slow_consumer"]


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """How one stream ended, for observers of a `StreamSupervisor`.

    `status`: `finished` (the answer completed), `failed` (the source raised; `error` is its type),
    `cancelled` (the client left), `shutdown` (the server stopped) or `slow_consumer` (dropped).
    """

    status: StreamStatus
    error: str | None
    deltas: int
    first_delta_seconds: float | None
    duration_seconds: float


Item = str | Event
StreamSource = AsyncIterator[Item] | Awaitable[AsyncIterator[Item]]
StreamFunc = Callable[[Request], StreamSource]

SUPERVISOR_STATE = "hybrid_streams"
"""The `app.state` attribute holding an app's `StreamSupervisor`."""

GENERIC_FAILURE = "the server hit an unexpected error"
SHUTDOWN_NOTICE = "the server is restarting"


def notice(reason: str) -> str:
    """The line a stream ends with when it cannot finish its answer."""
    return f"\n\n**⚠ The answer stopped: {reason}.**"


class StreamSupervisor:
    """Counts the open streams of an app and ends them, with a notice, when the server shuts down.

    On the first stream it chains itself in front of the SIGTERM and SIGINT handlers the server
    installed, so open streams close at once and the server's graceful shutdown does not wait on them.
    """

    def __init__(
        self, *, max_streams: int = 0, observers: Sequence[Callable[[StreamOutcome], None]] = ()
    ) -> None:
        self.max_streams = max_streams
        """Streams admitted at once before new ones are refused with 503 (0: no cap)."""
        self.observers: list[Callable[[StreamOutcome], None]] = list(observers)
        """Called with each stream's `StreamOutcome` when it closes (metrics, logs)."""
        self.open_observers: list[Callable[[], None]] = []
        """Called as each stream opens (metrics)."""
        self.refusal_observers: list[Callable[[ApiError], None]] = []
        """Called with each stream request refused before it streams: 429, 503, 4xx (metrics)."""
        self._open: set[Callable[[], None]] = set()  # each open stream's "end for shutdown"
        self._admitted = 0
        self._draining = False
        self._signals_installed = False

    def admit(self) -> Release:
        """Reserve a place for a new stream, or raise 503; call the result when the stream ends."""
        if self._draining:
            raise ApiError(
                503,
                "shutting_down",
                "the server is restarting; retry in a moment",
                headers={"Retry-After": "2"},
            )
        if self.max_streams and self._admitted >= self.max_streams:
            raise ApiError(
                503,
                "server_busy",
                "the server is streaming as many answers as it can; retry shortly",
                headers={"Retry-After": "5"},
            )
        self._admitted += 1

        def release() -> None:
            self._admitted -= 1

        return release_once(release)

    @property
    def active(self) -> int:
        """How many streams are open now."""
        return len(self._open)

    @property
    def draining(self) -> bool:
        return self._draining

    def drain(self) -> None:
        """End every open stream with a shutdown notice; new streams end the same way at once."""
        self._draining = True
        for end_stream in list(self._open):
            end_stream()

    def _open_stream(self, end_stream: Callable[[], None]) -> None:
        """Count an open stream; `end_stream()` ends it when the server shuts down."""
        if not self._signals_installed:
            self._install_signal_handlers()
        self._open.add(end_stream)
        for observe in self.open_observers:
            observe()
        if self._draining:
            end_stream()

    def _close_stream(self, end_stream: Callable[[], None], outcome: StreamOutcome) -> None:
        self._open.discard(end_stream)
        for observe in self.observers:
            try:
                observe(outcome)
            except Exception:
                logger.exception("stream observer %r failed", observe)

    def _install_signal_handlers(self) -> None:
        self._signals_installed = True
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if not callable(previous):
                continue  # nobody handles it gracefully: the process dies on it anyway

            def chained(num: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.drain)
                previous(num, frame)

            try:
                signal.signal(signum, chained)
            except ValueError:  # not the main thread: the host owns signals
                logger.debug("cannot watch %s outside the main thread", signum)
                return


def stream_endpoint(
    func: StreamFunc,
    *,
    keepalive_seconds: float = 15.0,
    send_timeout: float = 30.0,
    supervisor: StreamSupervisor | None = None,
    limiter: ClientLimiter | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """Turn `func(request)`, an async iterator of text deltas, into an SSE endpoint.

    `func` is an async generator function, or a coroutine function that validates the request (raising
    `ApiError` for a 4xx JSON answer) and then returns an async iterator. Each `str` it yields becomes a
    message the dash-extensions `SSE(concat=True)` component appends; an `Event` becomes a named event.
    The stream ends with `data: [DONE]`. If `func` raises, the user sees why the answer stopped.

    Open streams are admitted and counted by `supervisor` (503 past its cap); by default, by the one of
    the `hybrid.create_app` app serving the route, else by one of the endpoint's own. `limiter` adds
    per-client limits (429) before `func` runs. That app's `authorize` hook is asked first (401/403).
    """
    own_supervisor = StreamSupervisor()

    async def endpoint(request: Request) -> Response:
        streams = supervisor or getattr(request.app.state, SUPERVISOR_STATE, own_supervisor)
        # In this task's context: the stream's log lines, its provider request and its response carry it.
        request_id = bind_request_id(request.headers.get("x-request-id"))
        releases: list[Release] = []
        try:
            await authorize(request)  # the host's hook, before the request costs anything
            releases.append(streams.admit())
            if limiter is not None:
                releases.append(limiter.admit(request))
            # Read (and cache) the body now: once the stream starts, the response listens on `receive`
            # for the disconnect, and a generator reading the body then would race it for the messages.
            await _read_body(request)
            source = func(request)
            if inspect.isawaitable(source):
                source = await source
        except ApiError as exc:
            _release_all(releases)
            for observe in streams.refusal_observers:
                observe(exc)
            return exc.response()
        except BaseException:
            _release_all(releases)
            raise
        response = EventStreamResponse(
            source,
            keepalive_seconds=keepalive_seconds,
            send_timeout=send_timeout,
            supervisor=streams,
            on_close=lambda: _release_all(releases),
        )
        response.headers["X-Request-ID"] = request_id
        return response

    setattr(endpoint, _STREAM_ENDPOINT, True)
    endpoint.__name__ = getattr(func, "__name__", "stream")
    endpoint.__doc__ = func.__doc__
    return endpoint


class EventStreamResponse(Response):
    """`text/event-stream` response for an async iterator of deltas (see `stream_endpoint`).

    A client that stops reading holds at most the server's write buffer: the generator waits while a
    write is blocked, and after `send_timeout` seconds of a blocked write the stream is dropped.
    """

    media_type = "text/event-stream"
    _loop: asyncio.AbstractEventLoop
    _task: asyncio.Task[Any]
    _timer: asyncio.TimerHandle

    def __init__(
        self,
        source: AsyncIterator[Item],
        *,
        keepalive_seconds: float = 15.0,
        send_timeout: float = 30.0,
        supervisor: StreamSupervisor | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )
        del self.headers["content-length"]
        self.source = source
        self.keepalive_seconds = keepalive_seconds
        self.send_timeout = send_timeout
        self.supervisor = supervisor or StreamSupervisor()
        self.on_close = on_close
        self._last_write = 0.0
        self._writing_since = 0.0  # when the write in progress began; 0 when none is
        self._deltas = 0
        self._first_delta_at: float | None = None
        self._status: StreamStatus = "finished"
        self._error: str | None = None
        self._stopping: StreamStatus | Literal["complete"] | None = None
        self._keepalive: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the source in this task; a watcher task and a timer end it early when they must."""
        supervisor = self.supervisor
        self._loop = loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()  # type: ignore[assignment]
        opened_at = loop.time()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        except OSError:  # the client left before the stream began
            if self.on_close is not None:
                self.on_close()
            return
        self._last_write = loop.time()
        watcher = loop.create_task(self._watch_disconnect(receive))
        self._timer = loop.call_later(min(self.keepalive_seconds, self.send_timeout), self._check, send)
        supervisor._open_stream(self._end_for_shutdown)
        try:
            await self._pump(send)
            self._stopping = "complete"
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if self._stopping in (None, "complete") or self._task.uncancel():
                raise  # cancelled by the server, not by this response
            await self._stopped(send)
        except OSError:  # the client left while we wrote
            self._status = "cancelled"
        finally:
            self._timer.cancel()
            watcher.cancel()
            if self._keepalive is not None:
                self._keepalive.cancel()
            if self.on_close is not None:
                self.on_close()
            first = self._first_delta_at
            supervisor._close_stream(
                self._end_for_shutdown,
                StreamOutcome(
                    status=self._status,
                    error=self._error,
                    deltas=self._deltas,
                    first_delta_seconds=None if first is None else first - opened_at,
                    duration_seconds=loop.time() - opened_at,
                ),
            )

    def _stop(self, reason: StreamStatus) -> None:
        """End the stream for `reason` by cancelling its task (once, and not after it completed)."""
        if self._stopping is None:
            self._stopping = reason
            self._task.cancel()

    def _end_for_shutdown(self) -> None:
        self._stop("shutdown")

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stop("cancelled")

    async def _stopped(self, send: Send) -> None:
        """Finish a stream that `_stop` cancelled; the source is closed already."""
        self._status = self._stopping  # type: ignore[assignment]
        if self._stopping == "shutdown":
            await self._end(send, "shutdown", SHUTDOWN_NOTICE)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif self._stopping == "slow_consumer":
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
                # The source is silent, so this task waits on it; the comment goes out from a task of
                # its own, never while another write is under way.
                self._keepalive = self._loop.create_task(self._write(send, sse.KEEPALIVE))
                silence = 0.0
            # A write may block any moment from now: look again within the send timeout.
            wait = min(self.keepalive_seconds - silence, self.send_timeout)
        self._timer = self._loop.call_later(wait, self._check, send)

    async def _pump(self, send: Send) -> None:
        """Write the source's items as they come; always close the source.

        This loop runs once per token, so it writes inline (no coroutine per event) and keeps its
        bookkeeping in locals: two clock reads and a few attribute stores per event.
        """
        encode = sse.MessageEncoder().message
        now = self._loop.time
        source = self.source
        deltas = 0
        try:
            async for item in source:
                if type(item) is str:
                    chunk = encode(item)
                    if not chunk:
                        continue
                    if not deltas:
                        self._first_delta_at = now()
                    deltas += 1
                else:
                    chunk = item.encode()  # type: ignore[union-attr]
                self._writing_since = started = now()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self._writing_since = 0.0
                self._last_write = started
        except OSError:  # a server reporting ASGI >= 2.4 raises on writes after a disconnect
            self._status = "cancelled"
            return
        except StreamError as exc:
            logger.warning("stream failed: %s", exc.user_message)
            await self._end(send, exc.type, exc.user_message)
        except Exception:
            logger.exception("stream failed")
            await self._end(send, "internal_error", GENERIC_FAILURE)
        else:
            await self._write(send, sse.DONE)
        finally:
            self._deltas = deltas
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _end(self, send: Send, type: str, reason: str) -> None:
        """Finish a stream that could not complete: a machine-readable error, the visible notice, [DONE]."""
        if self._status == "finished":
            self._status = "failed"
        self._error = type
        body = Event("error", {"type": type, "message": reason}).encode()
        body += sse.MessageEncoder().message(notice(reason)) + sse.DONE
        with contextlib.suppress(OSError):
            await self._write(send, body)

    async def _write(self, send: Send, chunk: bytes) -> None:
        self._writing_since = started = self._loop.time()
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        self._writing_since = 0.0
        self._last_write = started


_STREAM_ENDPOINT = "_hybrid_stream_endpoint"


def is_stream_endpoint(endpoint: object) -> bool:
    """Whether `endpoint` was made by `stream_endpoint`."""
    return getattr(endpoint, _STREAM_ENDPOINT, False)


async def _read_body(request: Request) -> None:
    try:
        await request.body()
    except BodyTooLarge:
        raise ApiError(413, "body_too_large", "the request body is too large") from None


def _release_all(releases: list[Release]) -> None:
    for release in releases:
        release()
