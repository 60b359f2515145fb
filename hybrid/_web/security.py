"""Security headers on every response, and the pages' Content-Security-Policy.

Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks disconnect detection on streams).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ContentSecurityPolicy:
    """The pages' Content-Security-Policy: scripts from the app itself, and Dash's inline ones by hash.

    Model output is sanitised before it is rendered; this is the second wall if a sanitiser ever
    misses: an injected inline script or `javascript:` URL does not run, whatever reaches the page.
    `inline_hashes` gives the hashes of the inline scripts the app renders (`Dash.csp_hashes`); it is
    asked on every page, so clientside callbacks added late are covered. `script_sources` adds sources
    (space-separated); `*` leaves scripts unrestricted.
    """

    def __init__(
        self,
        *,
        frame_ancestors: str = "'self'",
        script_sources: str = "",
        inline_hashes: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self.frame_ancestors = frame_ancestors
        self.script_sources = script_sources.split()
        self.inline_hashes = inline_hashes

    def for_page(self) -> str:
        """The policy of an HTML page."""
        if "*" in self.script_sources:
            return self.for_other()
        scripts = " ".join(["'self'", *self.inline_hashes(), *self.script_sources])
        return f"script-src {scripts}; object-src 'none'; base-uri 'self'; {self.for_other()}"

    def for_other(self) -> str:
        """The policy of everything else (JSON, scripts, event streams): who may frame it."""
        return f"frame-ancestors {self.frame_ancestors}"


def security_headers(policy: str) -> list[tuple[bytes, bytes]]:
    """Headers that keep responses from being sniffed, framed by other sites, or leaking their URL."""
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
        (b"content-security-policy", policy.encode()),
    ]


class SecurityHeadersMiddleware:
    """Adds `security_headers` to every response that does not set them itself; HTML pages get the
    page policy of `csp`."""

    def __init__(self, app: ASGIApp, *, csp: ContentSecurityPolicy) -> None:
        self.app = app
        self.csp = csp
        self.headers = security_headers(csp.for_other())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name.lower(): value for name, value in headers}
                ours = self.headers
                if present.get(b"content-type", b"").startswith(b"text/html"):
                    ours = security_headers(self.csp.for_page())
                extra = [header for header in ours if header[0] not in present]
                message = {**message, "headers": [*headers, *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
