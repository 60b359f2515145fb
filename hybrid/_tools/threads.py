"""The threads an app's synchronous code runs on (sync tools, sync answer functions): bounded pools of
the app's own, apart from asyncio's default executor.

A sync tool (or a sync answer function) runs on a thread so that a slow one stalls no stream. Past its
timeout, or when the user stops the answer, it is given up, but a thread cannot be cancelled: it runs on
until the function returns. On asyncio's default executor (`asyncio.to_thread`), which the server shares
with the gzip of large responses, Dash's files and DNS lookups, a few hung tools took every thread and
the dashboard stopped loading. Here they can hold only their own pool's threads.

A call waits for a free thread within its tool's timeout. When every thread is held by a call that was
given up, a new call is refused at once (`SyncThreadsBusy`): those calls may never return, so waiting
would only use up the new call's timeout. The threads are daemons, so a hung tool does not hold the
process at exit either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from hybrid._errors import HybridError
from hybrid._settings import Settings

logger = logging.getLogger("hybrid.tools")


class SyncThreadsBusy(HybridError):
    """Every thread of a pool is held by a call that was given up: a new call is not run."""

    def __init__(self, size: int, purpose: str) -> None:
        super().__init__(
            f"the server's {size} {purpose} threads are all held by earlier calls that did not finish",
            type="threads_busy",
        )


class ThreadCall:
    """One function on one of the threads: `started` once a thread took it; `await call.result()`.

    Cancelling the task that awaits the result (the tool's timeout, a Stop) drops a call still waiting
    for a thread, and gives up one that is running: its thread counts as held until the function returns.
    """

    __slots__ = ("_pool", "abandoned", "finished", "future", "name")

    def __init__(self, pool: SyncThreads, name: str) -> None:
        self._pool = pool
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.name = name
        self.abandoned = False
        self.finished = False

    @property
    def started(self) -> bool:
        return self.future.running() or (self.future.done() and not self.future.cancelled())

    async def result(self) -> Any:
        try:
            return await asyncio.wrap_future(self.future)
        except asyncio.CancelledError:
            if not self.future.cancel():  # already running: the thread goes on without us
                self._pool.give_up(self)
            raise


class SyncThreads:
    """At most `size` daemon threads, started as calls need them; `purpose` names them (`tool`, `answer`)
    in thread names, logs and refusals."""

    def __init__(self, size: int, *, purpose: str = "tool") -> None:
        if size < 1:
            raise ValueError("a thread pool needs at least one thread")
        self.size = size
        self.purpose = purpose
        self.held = 0
        """Threads running a call that was given up."""
        self._calls: queue.SimpleQueue[tuple[ThreadCall, Callable[[], Any]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._waiting = 0

    def submit(self, name: str, function: Callable[[], Any]) -> ThreadCall:
        """Queue `function` (run in a copy of the caller's context); `SyncThreadsBusy` when every thread
        is held by a call that was given up."""
        call = ThreadCall(self, name)
        context = contextvars.copy_context()
        with self._lock:
            if self.held >= self.size:
                logger.warning(
                    "the %s %s was not run: all %d %s threads are held",
                    self.purpose,
                    name,
                    self.size,
                    self.purpose,
                )
                raise SyncThreadsBusy(self.size, self.purpose)
            grow = self._idle <= self._waiting and self._threads < self.size  # no idle thread left for it
            if grow:
                self._threads += 1
            self._waiting += 1
            number = self._threads
        self._calls.put((call, lambda: context.run(function)))
        if grow:
            threading.Thread(target=self._work, name=f"hybrid-{self.purpose}-{number}", daemon=True).start()
        return call

    def give_up(self, call: ThreadCall) -> None:
        """`call` is running and nobody waits for it any more: its thread is held until it returns."""
        with self._lock:
            if call.finished:
                return
            call.abandoned = True
            self.held += 1
            held = self.held
        logger.warning(
            "the %s %s was given up (its timeout, or a Stop) but its thread runs on until it returns; "
            "%d of %d %s threads are held so",
            self.purpose,
            call.name,
            held,
            self.size,
            self.purpose,
        )

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            call, function = self._calls.get()
            with self._lock:
                self._idle -= 1
                self._waiting -= 1
            if not call.future.set_running_or_notify_cancel():
                continue  # its caller gave up while it waited for a thread
            started = time.monotonic()
            try:
                result = function()
            except BaseException as exc:  # the caller's to handle, as an executor hands it over
                self._finished(call, started)
                call.future.set_exception(exc)
            else:
                self._finished(call, started)
                call.future.set_result(result)

    def _finished(self, call: ThreadCall, started: float) -> None:
        with self._lock:
            call.finished = True
            if not call.abandoned:
                return
            self.held -= 1
        seconds = time.monotonic() - started
        logger.info(
            "the given-up %s %s returned after %.1f s; its thread is free again",
            self.purpose,
            call.name,
            seconds,
        )


_default: SyncThreads | None = None
_default_lock = threading.Lock()


def default_threads() -> SyncThreads:
    """Tool threads for tools run outside a hybrid app (a `ToolContext` made by hand): the default
    number of them, made when first needed. An app's tools run on its own (`HYBRID_TOOL_THREADS`)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SyncThreads(Settings().tool_threads)
        return _default
