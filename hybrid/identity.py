"""Who a request comes from: the user an authenticating proxy names in a header, else its address.

With `HYBRID_USER_HEADER` set (e.g. `X-Forwarded-User`, as oauth2-proxy, Authelia, Pomerium and
Cloudflare Access send it), `HybridApp` refuses every request and websocket without the header with 401
(the probes excepted) and keeps the user in the request's scope, where the limits, the tickets and the
logs find it. The header is trusted as it is, so only the proxy may reach the app (see the README's
Deployment). Without a guard, `Exposure` warns when a server on a public address spends money for anyone.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Collection, Iterable

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from hybrid.errors import error_response
from hybrid.server import Address
from hybrid.urls import route_path

logger = logging.getLogger("hybrid.identity")

USER = "hybrid.user"
"""The scope key holding the signed-in user's name (absent without a user header)."""

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Paths that stay open without a user, for load balancers and Prometheus."""

MAX_USER_CHARS = 256


class UserHeader:
    """Requires the header `name` on every request but the probes, and records its value as the user."""

    def __init__(self, name: str, *, open_paths: Collection[str] = PROBES) -> None:
        self.name = name
        self.open_paths = frozenset(open_paths)

    def admit(self, scope: Scope) -> Response | None:
        """Record the request's user in `scope`; or the 401 to answer when it has none."""
        value = Headers(scope=scope).get(self.name, "")
        user = user_name(value)
        if user:
            scope[USER] = user
            return None
        if route_path(scope) in self.open_paths:
            return None
        if value.strip():
            reason = (
                f"the {self.name} header is malformed (not UTF-8, over {MAX_USER_CHARS} characters, "
                "or with control characters)"
            )
        else:
            reason = f"the request has no {self.name} header"
        return error_response(401, "unauthenticated", f"sign in first: {reason}")


def user_name(value: str) -> str | None:
    """The user a header's `value` names, or None if it names none (blank or malformed).

    Proxies send the name's UTF-8 bytes, which Starlette hands over decoded as Latin-1. Invalid UTF-8
    is refused rather than replaced: two different names would otherwise become the same user.
    """
    try:
        user = value.encode("latin-1").decode("utf-8").strip()
    except UnicodeError:
        return None
    return user if user and len(user) <= MAX_USER_CHARS and user.isprintable() else None


def user_of(scope: Scope) -> str | None:
    """The signed-in user of the request, if the app requires one."""
    return scope.get(USER)


@functools.lru_cache(maxsize=64)  # asked per request while a paid, open server looks: its few addresses
def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_public(address: Address) -> bool:
    """Whether a server listening on `address` is reachable from other machines: a TCP address other
    than loopback. A Unix socket is local; a descriptor it was handed is unknown until requests come."""
    return isinstance(address, tuple) and address[1] is not None and not is_loopback(address[0])


class Exposure:
    """Warns, once and loudly, when a server on a public address spends money for anyone.

    The server's bound addresses are checked at start-up when it says what they are (uvicorn and
    gunicorn do); then each request's local address is, until one is public. Checks stop at once when
    nothing could warn: a free provider, or a guard (the user header, an authorize hook).
    """

    def __init__(self, *, paid: bool, guarded: bool) -> None:
        self.watching = paid and not guarded

    def check(self, addresses: Iterable[Address]) -> None:
        """Warn if one of `addresses` is public (the first one seen, once)."""
        if not self.watching:
            return
        public = next((address for address in addresses if is_public(address)), None)
        if public is None:
            return
        self.watching = False
        logger.warning(
            "hybrid listens on %s:%s with a paid model provider and lets anyone chat: put it behind an "
            "authenticating proxy and set HYBRID_USER_HEADER (e.g. X-Forwarded-User), or pass "
            "create_app(authorize=...) to decide who may stream",
            public[0],
            public[1],
        )
