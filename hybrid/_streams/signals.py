"""One relay per process in front of the server's SIGTERM and SIGINT handlers: every supervisor drains.

Signals are per process, so their relay is too (`SHUTDOWN_SIGNALS`); each supervisor asks to be drained
when a stream of its first opens.
"""

from __future__ import annotations

import logging
import signal
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

logger = logging.getLogger("hybrid.stream")


class Drains(Protocol):
    """What a shutdown signal ends: a supervisor's open streams, from its event loop."""

    def drain_soon(self) -> None: ...


class ShutdownSignals:
    """One handler per process in front of the server's SIGTERM and SIGINT handlers, for all supervisors.

    It is chained when a stream first opens (after the server installed its own handlers), and again
    only if another handler has replaced it since; so however many supervisors a process makes, a signal
    passes through it once.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self._supervisors: weakref.WeakSet[Drains] = weakref.WeakSet()

    def watch(self, supervisor: Drains) -> None:
        """Drain `supervisor` on the next SIGTERM or SIGINT."""
        self._supervisors.add(supervisor)
        for signum in self.SIGNALS:
            previous = signal.getsignal(signum)
            if isinstance(previous, _Chained) or not callable(previous):
                continue  # ours already, or nobody handles it gracefully: the process dies on it anyway
            try:
                signal.signal(signum, _Chained(self, previous))
            except ValueError:  # not the main thread: the host owns signals
                logger.debug("cannot watch %s outside the main thread", signum)
                return

    def fire(self) -> None:
        for supervisor in list(self._supervisors):
            supervisor.drain_soon()


class _Chained:
    """A signal handler that drains the supervisors, then calls the handler it replaced."""

    def __init__(self, signals: ShutdownSignals, previous: Callable[[int, FrameType | None], Any]) -> None:
        self.signals = signals
        self.previous = previous

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signals.fire()
        self.previous(signum, frame)


SHUTDOWN_SIGNALS = ShutdownSignals()
"""Signals are per process, so their relay is too."""
