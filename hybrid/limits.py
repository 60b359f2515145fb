"""Admission control for streams: a per-client rate and concurrency limit (429) and a global cap (503).

Each refusal is an `ApiError` with a `Retry-After` header, so clients back off instead of hammering a
process that is already full.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

from hybrid.errors import ApiError

Release = Callable[[], None]
"""Gives back what an admission took; calling it again does nothing."""


def release_once(release: Callable[[], None]) -> Release:
    """`release` as a `Release`: only its first call counts."""
    released = False

    def once() -> None:
        nonlocal released
        if not released:
            released = True
            release()

    return once


@dataclass(slots=True)
class _Client:
    tokens: float
    updated: float
    active: int = 0


class ClientLimiter:
    """Limits each client to `per_minute` new streams (bursts of `burst`) and `concurrent` open ones.

    A client is its address as the server sees it; behind a proxy, run uvicorn with
    `--proxy-headers --forwarded-allow-ips=<proxy>` so that is the user's address. A limit of 0 is off.
    """

    def __init__(self, *, per_minute: int, burst: int, concurrent: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60
        self.burst = max(burst, 1)
        self.concurrent = concurrent
        self.max_clients = max_clients
        self._clients: dict[str, _Client] = {}

    def admit(self, request: Request) -> Release:
        """Count a new stream for the request's client, or raise 429; call the result when it ends."""
        key = request.client.host if request.client else "unknown"
        now = time.monotonic()
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= self.max_clients:
                self._forget_idle(now)
            client = self._clients[key] = _Client(tokens=self.burst, updated=now)
        if self.concurrent and client.active >= self.concurrent:
            raise ApiError(
                429,
                "too_many_streams",
                f"at most {self.concurrent} answers can stream at once; wait for one to finish",
                headers={"Retry-After": "5"},
            )
        if self.rate:
            client.tokens = min(self.burst, client.tokens + (now - client.updated) * self.rate)
            client.updated = now
            if client.tokens < 1:
                wait = math.ceil((1 - client.tokens) / self.rate)
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            client.tokens -= 1
        client.active += 1

        def release() -> None:
            client.active -= 1

        return release_once(release)

    def _forget_idle(self, now: float) -> None:
        """Drop clients with nothing open whose bucket has refilled: they are as good as new."""
        refill = self.burst / self.rate if self.rate else 0.0
        self._clients = {
            key: client
            for key, client in self._clients.items()
            if client.active or now - client.updated < refill
        }
