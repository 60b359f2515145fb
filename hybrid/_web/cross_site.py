"""`CrossSite`: requests that change state from another site are refused, unless that site is allowed.

A browser sends cookies and the proxy's sign-in with a form or `fetch` another site makes it send, and
CORS only hides the answer from that site: the request itself still runs. So a POST, PUT, PATCH or DELETE
(a stream, a Stop, a Dash callback that signs a ticket) that the browser marks `Sec-Fetch-Site:
cross-site`, or, from a browser that does not send that header, whose `Origin` names another host than
the request's, gets 403 unless `HYBRID_CORS_ORIGINS` lists that origin. Requests without either header
(curl, servers) are left to the other checks.

Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks disconnect detection on streams); the stream
routes that `HybridApp` runs ahead of its middleware ask `refusal` themselves.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from hybrid._errors import error_response

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CrossSite:
    """Decides whether a request comes from a site it may come from: its own, or one of `allowed`
    (origins as `scheme://host[:port]`; `*`: any)."""

    def __init__(self, allowed: Collection[str] = ()) -> None:
        self.any = "*" in allowed
        self.allowed = frozenset(origin.rstrip("/").lower() for origin in allowed)

    def refusal(self, scope: Scope) -> Response | None:
        """The 403 for a state-changing request from another site; None for every other request."""
        if self.any or scope["type"] != "http" or scope["method"] not in STATE_CHANGING:
            return None
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and origin.lower() in self.allowed:
            return None
        fetched_from = headers.get("sec-fetch-site")
        if fetched_from == "cross-site" or (
            # Browsers that say where a request comes from are believed; the host the request names can
            # differ from the page's behind a proxy (`$host` drops the port). Older ones send the origin.
            fetched_from is None and origin is not None and not _same_host(origin, headers.get("host", ""))
        ):
            return error_response(
                403,
                "cross_site_request",
                "this server does not take requests that change state from another site "
                "(the operator may allow an origin with HYBRID_CORS_ORIGINS)",
            )
        return None


def _same_host(origin: str, host: str) -> bool:
    """Whether `origin` names the host the request was sent to (the scheme may differ behind a proxy
    that ends TLS; `null`, an opaque origin, names none)."""
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.lower()


class CrossSiteMiddleware:
    """Answers `cross_site.refusal` for the requests it refuses, and hands the others to `app`."""

    def __init__(self, app: ASGIApp, *, cross_site: CrossSite) -> None:
        self.app = app
        self.cross_site = cross_site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.cross_site.refusal(scope) if scope["type"] == "http" else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
