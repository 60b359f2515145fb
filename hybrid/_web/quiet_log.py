"""`QuietLog`: a log line per reason at most every so often, for refusals a client can cause at will.

A refused request is answered on every occasion, but a client that sends a thousand bad requests must not
write a thousand lines (or tracebacks) to the operator's log: the first of a reason is logged, the rest
within `every` seconds are counted and reported with the next line.
"""

from __future__ import annotations

import logging
import time


class QuietLog:
    """Logs `warning`s to `logger`, at most one per reason every `every` seconds, counting the others."""

    def __init__(self, logger: logging.Logger, *, every: float = 60.0) -> None:
        self.logger = logger
        self.every = every
        self._next: dict[str, float] = {}  # reason -> when its next line may be written
        self._skipped: dict[str, int] = {}

    def warning(self, reason: str, message: str, *args: object) -> bool:
        """Log `message % args` unless `reason` was logged less than `every` seconds ago; whether it was."""
        now = time.monotonic()
        if now < self._next.get(reason, 0.0):
            self._skipped[reason] = self._skipped.get(reason, 0) + 1
            return False
        self._next[reason] = now + self.every
        skipped = self._skipped.pop(reason, 0)
        if skipped:
            message += f" ({skipped} more like it since the last such line)"
        self.logger.warning(message, *args)
        return True
