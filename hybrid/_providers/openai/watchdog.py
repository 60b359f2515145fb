"""`Watchdog`: a deadline for the task reading an upstream answer, re-armed per chunk for nearly nothing."""

from __future__ import annotations

import asyncio


class Watchdog:
    """Cancels the task awaiting the provider once a wait outlives its deadline (`due`, loop time).

    Like `asyncio.timeout`, but a chunk costs a comparison and an attribute write rather than a new
    timer: the timer is re-armed only when it fires early, or when a deadline moves earlier. `due` is
    None while the reader is not waiting on the provider, e.g. while the consumer writes a delta to
    the browser; the timer then does nothing.

    The task it cancels is the one that waits now (`expect`): an answer may be read from another task
    than the one that started it (`asyncio.wait_for` runs its awaitable in a task of its own on Python
    3.11).
    """

    __slots__ = ("_cancelling", "_fired", "_handle", "_loop", "_task", "due")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[object] | None = None
        self._cancelling = 0
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False
        self.due: float | None = None

    def expect(self, due: float) -> None:
        """Expect data by `due`, in the running task. Cheap when deadlines only move later and the task
        stays the same, as between chunks."""
        task = asyncio.current_task()
        if task is not self._task:
            assert task is not None, "a Watchdog guards a task"
            self._task = task
            self._cancelling = task.cancelling()
        self.due = due
        handle = self._handle
        if handle is None or due < handle.when():
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(due, self._check)

    def _check(self) -> None:
        self._handle = None
        due = self.due
        if due is None:
            return  # the reader is busy elsewhere; the next wait re-arms
        if self._loop.time() >= due:
            self._fired = True
            self._task.cancel()  # type: ignore[union-attr]
        else:
            self._handle = self._loop.call_at(due, self._check)

    def expired(self) -> bool:
        """Whether the cancellation being handled is this watchdog's (and nobody else's)."""
        return self._fired and self._task is not None and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
