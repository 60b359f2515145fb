"""Who a request comes from: the user an authenticating proxy names in a header, else its address.

With `HYBRID_USER_HEADER` set (e.g. `X-Forwarded-User`, as oauth2-proxy, Authelia, Pomerium and
Cloudflare Access send it), `HybridApp` refuses every request and websocket without the header with 401
(the probes excepted) and keeps the user in the request's scope, where the limits, the tickets and the
logs find it. The header is trusted as it is, so only the proxy may reach the app (see the docs'
Deployment).
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from hybrid._errors import error_response
from hybrid._web.quiet_log import QuietLog
from hybrid._web.urls import route_path

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
        self._log = QuietLog(logger)

    def admit(self, scope: Scope) -> Response | None:
        """Record the request's user in `scope`; or the 401 to answer when it has none.

        A header sent more than once names nobody: a proxy that appends its header instead of replacing
        the client's would otherwise let the client's own copy (whichever one is read) decide who it is.
        """
        values = Headers(scope=scope).getlist(self.name)
        if len(values) > 1:
            self._log.warning(
                "repeated",
                "refused a request with %d %s headers: the proxy must replace the client's header, not "
                "add its own beside it",
                len(values),
                self.name,
            )
            return error_response(
                401, "unauthenticated", f"sign in first: the {self.name} header was sent more than once"
            )
        value = values[0] if values else ""
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
