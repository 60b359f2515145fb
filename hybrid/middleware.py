"""Pure ASGI middleware (no `BaseHTTPMiddleware`: it breaks disconnect detection on streams)."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid.errors import BodyTooLarge


class BodyLimitMiddleware:
    """Answer 413 with a JSON error when a request body exceeds `max_bytes`.

    It counts bytes as they are received, so a body without `Content-Length` is capped too; whatever the
    app was about to answer after reading too much (a2wsgi turns the refused read into a Flask error) is
    replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        limited_receive = LimitedReceive(receive, self.max_bytes)
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if limited_receive.exceeded:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await BodyTooLarge(self.max_bytes).response()(scope, receive, send)


class LimitedReceive:
    """A `receive` that raises `BodyTooLarge` once the body received passes `max_bytes`."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self.receive = receive
        self.max_bytes = max_bytes
        self.received = 0
        self.exceeded = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                self.exceeded = True
                raise BodyTooLarge(self.max_bytes)
        return message


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


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


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


COMPRESSIBLE_TYPES = (
    b"text/",
    b"application/javascript",
    b"application/json",
    b"application/xml",
    b"application/manifest+json",
    b"image/svg+xml",
    b"image/x-icon",
    b"image/vnd.microsoft.icon",
)
"""Content types worth compressing (text, scripts, JSON, SVG and icons); never `text/event-stream`."""
EVENT_STREAM = b"text/event-stream"
INLINE_GZIP_BYTES = 16_384
"""Bodies up to this size are gzipped on the event loop (about 0.5 ms for JSON); larger ones in a thread."""


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's `Accept-Encoding` takes gzip (named, or `*`, with a q-value above 0)."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            for item in value.split(b","):
                coding, _, params = item.strip().partition(b";")
                if coding.strip().lower() in (b"gzip", b"*") and not _q_zero(params):
                    return True
    return False


def _q_zero(params: bytes) -> bool:
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.strip().lower() == b"q":
            try:
                return float(value) <= 0
            except ValueError:
                return False
    return False


def compressible(content_type: bytes) -> bool:
    """Whether a response of `content_type` is worth compressing (an event stream never is)."""
    content_type = content_type.lower()
    return not content_type.startswith(EVENT_STREAM) and content_type.startswith(COMPRESSIBLE_TYPES)


def add_vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` with `Accept-Encoding` in their `Vary`."""
    vary = [value for name, value in headers if name == b"vary"]
    if any(b"accept-encoding" in value.lower() or value.strip() == b"*" for value in vary):
        return headers
    others = [(name, value) for name, value in headers if name != b"vary"]
    return [*others, (b"vary", b", ".join([*vary, b"Accept-Encoding"]))]


class GzipMiddleware:
    """Gzips responses that arrive whole (one body message) when the client accepts gzip.

    Dash's pages, layout, dependencies and callback answers arrive whole from `DashBridge`, each in one
    message. A response that streams (its first body message says more follows) is passed on as it is:
    compressing it would hold back what a streaming Flask route means to send now. An event stream, a
    response already encoded, a `no-transform` one, or one under `minimum_size` bytes is never touched.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        held: Message | None = None

        async def compressing_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _may_compress(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            start, held = held, None
            body = message.get("body", b"")
            if not message.get("more_body", False) and len(body) >= self.minimum_size:
                compressed = await self._compress(body)
                if len(compressed) < len(body):
                    start, message = self._gzipped(start, compressed)
            await send(start)
            await send(message)

        await self.app(scope, receive, compressing_send)

    async def _compress(self, body: bytes) -> bytes:
        if len(body) <= INLINE_GZIP_BYTES:
            return gzip.compress(body, self.level, mtime=0)
        # zlib lets go of the GIL while it works: off the loop, a large body does not stall the streams
        return await asyncio.to_thread(gzip.compress, body, self.level, mtime=0)

    @staticmethod
    def _gzipped(start: Message, body: bytes) -> tuple[Message, Message]:
        headers = []
        for name, value in start.get("headers", []):
            if name == b"etag" and not value.startswith(b"W/"):
                value = b"W/" + value  # the same content, no longer the same bytes
            if name != b"content-length":
                headers.append((name, value))
        headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
        start = {**start, "headers": add_vary(headers)}
        return start, {"type": "http.response.body", "body": body}


def _may_compress(start: Message) -> bool:
    if start["status"] in (204, 206, 304) or start["status"] < 200:
        return False
    content_type = b""
    for name, value in start.get("headers", []):
        if name == b"content-encoding" or (name == b"cache-control" and b"no-transform" in value.lower()):
            return False
        if name == b"content-type":
            content_type = value
    return compressible(content_type)
