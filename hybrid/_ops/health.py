"""Readiness, `GET /readyz`: whether this process should get traffic.

Not ready while it shuts down, or while its provider fails a cheap check (a `Pingable` provider; the
demo model is not one and is always ready). Probes come often and from every load balancer:
one check runs at a time and its result is kept for `cache_seconds`.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from hybrid._errors import error_response
from hybrid._providers.base import Pingable, Provider
from hybrid._streams.supervisor import StreamSupervisor

logger = logging.getLogger("hybrid.health")

CACHE_SECONDS = 5.0


class Readiness:
    """Answers `/readyz` for an app's provider and streams; `timeout` bounds one provider check."""

    def __init__(
        self,
        provider: Provider,
        streams: StreamSupervisor,
        *,
        timeout: float,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.provider = provider
        self.streams = streams
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._problem: str | None = None

    async def problem(self) -> str | None:
        """Why this process is not ready, or None."""
        if self.streams.draining:
            return "the server is shutting down"
        loop = asyncio.get_running_loop()
        async with self._lock:  # concurrent probes wait for one check instead of starting their own
            if self._checked_at is None or loop.time() - self._checked_at >= self.cache_seconds:
                self._problem = await self._check()
                self._checked_at = loop.time()
            return self._problem

    async def endpoint(self, request: Request) -> JSONResponse:
        problem = await self.problem()
        if problem is not None:
            return error_response(503, "not_ready", problem, headers={"Retry-After": "5"})
        return JSONResponse({"status": "ready", "provider": self.provider.name})

    async def _check(self) -> str | None:
        provider = self.provider
        if not isinstance(provider, Pingable):
            return None
        name = self.provider.name
        try:
            async with asyncio.timeout(self.timeout):  # in case the check ignores its own timeout
                await provider.ping(self.timeout)
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            why = type(exc).__name__ + (f", status {status}" if status is not None else "")
            logger.warning("not ready: the %s provider failed its check (%s)", name, why)
            return f"the {name} provider did not pass its check ({why})"
        return None
