"""`StreamSupervisor`: the open streams of an app, their admission, their hooks, and shutdown.

A response asks the supervisor for a place (`admit`), reports that it opened and, when it ends, how
(`opened`, `closed`); refused requests are reported too (`refused`). On SIGTERM or SIGINT every
supervisor of the process drains (`hybrid._streams.signals`): its open streams end at once with a
notice, new ones the same way, so the server's graceful shutdown never waits on an endless stream.

A resumable answer is the stream the supervisor reports (it holds the place and has the outcome); the
responses that read its buffer are only `track`ed, so that shutdown ends them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import Protocol

from hybrid._errors import ApiError
from hybrid._streams.hooks import HookSet, StreamHooks, StreamOutcome
from hybrid._streams.limits import Release, release_once
from hybrid._streams.signals import SHUTDOWN_SIGNALS

EndStream = Callable[[], None]
"""Ends one open stream because the server shuts down."""


class OpenStreams(Protocol):
    """What a response reports to as it opens and closes (a `StreamSupervisor`, or a view of one)."""

    def opened(self, end_stream: EndStream) -> None: ...

    def closed(self, end_stream: EndStream, outcome: StreamOutcome) -> None: ...


class StreamSupervisor:
    """Counts an app's open streams, caps them at `max_streams` (0: no cap), and ends them at shutdown."""

    def __init__(self, *, max_streams: int = 0, hooks: Iterable[StreamHooks] = ()) -> None:
        self.max_streams = max_streams
        self.hooks = HookSet(hooks)
        """Told of every stream as it opens, is refused and closes (metrics, logs)."""
        self._open: set[EndStream] = set()
        self._tracked: set[EndStream] = set()
        self._admitted = 0
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def active(self) -> int:
        """How many streams are open now."""
        return len(self._open)

    @property
    def draining(self) -> bool:
        """Whether the server is shutting down (new streams are refused)."""
        return self._draining

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

    def refused(self, error: ApiError) -> None:
        """Report a stream request refused before it streamed."""
        self.hooks.refused(error)

    def opened(self, end_stream: EndStream) -> None:
        """Count an open stream; `end_stream()` ends it if the server shuts down (at once if it is)."""
        self._watch(self._open, end_stream)
        self.hooks.opened()

    def closed(self, end_stream: EndStream, outcome: StreamOutcome) -> None:
        """Count a stream as closed, for the reason in `outcome`."""
        self._open.discard(end_stream)
        self.hooks.closed(outcome)

    def track(self, end_stream: EndStream) -> None:
        """End `end_stream` at shutdown too, without counting or reporting it as a stream."""
        self._watch(self._tracked, end_stream)

    def untrack(self, end_stream: EndStream) -> None:
        self._tracked.discard(end_stream)

    def _watch(self, streams: set[EndStream], end_stream: EndStream) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        SHUTDOWN_SIGNALS.watch(self)
        streams.add(end_stream)
        if self._draining:
            end_stream()

    def drain(self) -> None:
        """End every open stream with a shutdown notice; new streams are refused from now on."""
        self._draining = True
        for end_stream in [*self._open, *self._tracked]:
            end_stream()

    def drain_soon(self) -> None:
        """`drain` from a signal handler: on this supervisor's event loop, when it is still running."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # that loop is closed: nothing of it is left to end
                self._loop.call_soon_threadsafe(self.drain)
