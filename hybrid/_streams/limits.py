"""Admission control for streams: a per-client rate and concurrency limit (429).

Each refusal is an `ApiError` with a `Retry-After` header, so clients back off instead of hammering a
process that is already full. The global cap (503) is the `StreamSupervisor`'s.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import Scope

from hybrid._errors import ApiError
from hybrid._web.identity import user_of

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


def client_of(request: Request) -> str:
    """Whom the limits count a request against: its signed-in user when known, else its address."""
    return client_in(request.scope)


def client_in(scope: Scope) -> str:
    """`client_of` the request of the ASGI `scope` (a Dash callback's, say, which a2wsgi hands on)."""
    user = user_of(scope)
    if user is not None:
        return "user:" + user
    client = scope.get("client")
    return "address:" + (client[0] if client else "unknown")


def too_many_streams(concurrent: int) -> ApiError:
    """The 429 of a client with `concurrent` streams open already."""
    return ApiError(
        429,
        "too_many_streams",
        f"at most {concurrent} answers can stream at once; wait for one to finish",
        headers={"Retry-After": "5"},
    )


def rate_limited(wait: int) -> ApiError:
    """The 429 of a client that may start its next stream in `wait` seconds."""
    return ApiError(
        429, "rate_limited", f"too many requests; retry in {wait} s", headers={"Retry-After": str(wait)}
    )


@dataclass(slots=True)
class _Client:
    tokens: float
    updated: float
    active: int = 0


class ClientLimiter:
    """Limits each client to `per_minute` new streams (bursts of `burst`) and `concurrent` open ones.

    A client is a key (`client_of`: the signed-in user, else the address as the server sees it; behind a
    proxy, run uvicorn with `--proxy-headers --forwarded-allow-ips=<proxy>` so that is the user's
    address). A limit of 0 is off.
    The table remembers at most `max_clients` clients: when it is full, the client seen longest ago with
    nothing open is forgotten (it starts again with a full bucket, as it would after a minute's pause).
    Clients with streams open are kept apart from the idle ones, so finding that client is O(1) however
    many clients stream.
    """

    def __init__(self, *, per_minute: int, burst: int, concurrent: int, max_clients: int = 100_000) -> None:
        self.rate = per_minute / 60
        self.burst = max(burst, 1)
        self.concurrent = concurrent
        self.max_clients = max_clients
        self._idle: OrderedDict[str, _Client] = OrderedDict()  # nothing open; least recently seen first
        self._streaming: dict[str, _Client] = {}  # with a stream open: never forgotten

    def __len__(self) -> int:
        return len(self._idle) + len(self._streaming)

    def admit(self, key: str) -> Release:
        """Count a new stream for the client `key`, or raise 429; call the result when it ends."""
        now = time.monotonic()
        client = self._streaming.get(key)
        if client is None:
            client = self._idle.pop(key, None)
            if client is None:
                self._make_room()
                client = _Client(tokens=self.burst, updated=now)
            self._idle[key] = client  # seen now; it moves on once admitted
        if self.concurrent and client.active >= self.concurrent:
            raise too_many_streams(self.concurrent)
        if self.rate:
            client.tokens = min(self.burst, client.tokens + (now - client.updated) * self.rate)
            client.updated = now
            if client.tokens < 1:
                raise rate_limited(math.ceil((1 - client.tokens) / self.rate))
            client.tokens -= 1
        if not client.active:
            del self._idle[key]
            self._streaming[key] = client
        client.active += 1

        def release() -> None:
            client.active -= 1
            if not client.active:
                del self._streaming[key]
                self._idle[key] = client  # seen now, as it ends

        return release_once(release)

    def _make_room(self) -> None:
        """Forget the idle client seen longest ago when the table is full; 503 if every client streams."""
        if len(self) < self.max_clients:
            return
        if not self._idle:
            raise ApiError(
                503,
                "server_busy",
                "the server is streaming for as many clients as it can; retry shortly",
                headers={"Retry-After": "5"},
            )
        self._idle.popitem(last=False)
