"""Who a request comes from: the user an authenticating proxy names in a header, else its address.

With `HYBRID_USER_HEADER` set (e.g. `X-Forwarded-User`, as oauth2-proxy, Authelia, Pomerium and
Cloudflare Access send it), `HybridApp` refuses every request without the header with 401 (the probes
excepted) and keeps the user in the request's scope, where the limits, the tickets and the logs find it.
The header is trusted as it is, so only the proxy may reach the app (see the README's Deployment).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from hybrid.errors import error_response

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
        user = Headers(scope=scope).get(self.name, "").strip()
        if user and len(user) <= MAX_USER_CHARS and user.isprintable():
            scope[USER] = user
            return None
        if _route_path(scope) in self.open_paths:
            return None
        return error_response(401, "unauthenticated", f"sign in first: the request has no {self.name} header")


def user_of(scope: Scope) -> str | None:
    """The signed-in user of the request, if the app requires one."""
    return scope.get(USER)


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_open(host: str, *, paid: bool, guarded: bool) -> bool:
    """Warn, loudly, when a server on a public address spends money for anyone; True if it warned."""
    if is_loopback(host) or not paid or guarded:
        return False
    logger.warning(
        "hybrid listens on %s with a paid model provider and lets anyone chat: put it behind an "
        "authenticating proxy and set HYBRID_USER_HEADER (e.g. X-Forwarded-User), or pass "
        "create_app(authorize=...) to decide who may stream",
        host,
    )
    return True


def _route_path(scope: Scope) -> str:
    """The path below where the app is mounted (Starlette keeps the full path in `path`)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
