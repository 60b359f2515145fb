"""`StreamHooks`: what an app's streams and answers report, for metrics, logs and your own code.

Subclass `StreamHooks`, override the methods you need and pass it to `create_app(hooks=[...])`. Hooks run
in the stream's own task, so they must be quick and must not block. `HookSet` calls several hooks as one
with a single policy: a hook that raises is logged and skipped, and neither the stream nor the other
hooks notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from hybrid._errors import ApiError
from hybrid._providers.base import Completion

logger = logging.getLogger("hybrid.hooks")

OutcomeStatus = Literal["finished", "failed", "cancelled", "shutdown", "slow_consumer"]


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """How one stream ended.

    `status`: `finished` (the answer completed), `failed` (the source raised; `error` is its type),
    `cancelled` (the client left), `shutdown` (the server stopped) or `slow_consumer` (dropped).
    """

    status: OutcomeStatus
    error: str | None
    deltas: int
    first_delta_seconds: float | None
    duration_seconds: float


class StreamHooks:
    """The events of an app's streams; every method does nothing until a subclass overrides it."""

    def opened(self) -> None:
        """A stream was admitted and its response started."""

    def refused(self, error: ApiError) -> None:
        """A stream request was refused before it streamed (429, 503, or any 4xx)."""

    def closed(self, outcome: StreamOutcome) -> None:
        """A stream ended, for the reason in `outcome`."""

    def completed(self, completion: Completion) -> None:
        """The chat stream's answer ran to its end: the provider's finish reason and token usage."""

    def provider_failed(self, provider: str, status: int | None, type: str) -> None:
        """An attempt to reach the provider failed (retried or not): its HTTP status, if any, and why."""


class HookSet(StreamHooks):
    """Several `StreamHooks` called as one; a hook that raises is logged and the others still run."""

    def __init__(self, hooks: Iterable[StreamHooks] = ()) -> None:
        self._hooks: list[StreamHooks] = []
        for hook in hooks:
            self.add(hook)

    def add(self, hook: StreamHooks) -> None:
        # A HookSet's members join this one, so every call still passes one exception policy.
        self._hooks.extend(hook._hooks if isinstance(hook, HookSet) else [hook])

    def opened(self) -> None:
        self._each(lambda hook: hook.opened())

    def refused(self, error: ApiError) -> None:
        self._each(lambda hook: hook.refused(error))

    def closed(self, outcome: StreamOutcome) -> None:
        self._each(lambda hook: hook.closed(outcome))

    def completed(self, completion: Completion) -> None:
        self._each(lambda hook: hook.completed(completion))

    def provider_failed(self, provider: str, status: int | None, type: str) -> None:
        self._each(lambda hook: hook.provider_failed(provider, status, type))

    def _each(self, call: Callable[[StreamHooks], None]) -> None:
        for hook in self._hooks:
            try:
                call(hook)
            except Exception:
                logger.exception("stream hook %r failed", hook)
