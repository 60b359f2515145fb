"""`create_app`: the Starlette root that serves a Dash app through a2wsgi and streams natively."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any

from dash import Dash
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from hybrid.auth import AUTHORIZE_STATE, Authorize
from hybrid.chat import ChatStream
from hybrid.embed import serve_dash
from hybrid.errors import (
    ApiError,
    error_response,
    handle_api_error,
    handle_http_error,
    http_error_response,
)
from hybrid.health import Readiness
from hybrid.limits import ClientLimiter
from hybrid.logs import log_outcome
from hybrid.metrics import Metrics
from hybrid.middleware import (
    BodyLimitMiddleware,
    DashCallbackGuard,
    LimitedReceive,
    SecurityHeadersMiddleware,
    security_headers,
)
from hybrid.providers import Provider
from hybrid.providers.select import provider_from_settings
from hybrid.settings import Settings
from hybrid.streaming import (
    GENERIC_FAILURE,
    SUPERVISOR_STATE,
    StreamSupervisor,
    is_stream_endpoint,
    stream_endpoint,
)
from hybrid.tickets import TicketSigner, secret_key

logger = logging.getLogger("hybrid.app")


class HybridApp(Starlette):
    """The Starlette root `create_app` returns: event streams run ahead of its middleware stack.

    An open stream would otherwise keep a frame of every middleware alive for its whole life and pass
    each event through their `send` wrappers (about 8 KB per stream and 1 µs per event; see the README's
    benchmarks). So routes made by `stream_endpoint` are matched first and run directly, with what the
    stack does for them done here: the body limit, JSON errors, the security headers. Everything else
    takes the ordinary path through the middleware.
    """

    def __init__(
        self,
        *,
        stream_routes: Sequence[Route] = (),
        max_body_bytes: int,
        stream_headers: Sequence[tuple[bytes, bytes]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.stream_routes = tuple(stream_routes)
        self.max_body_bytes = max_body_bytes
        self.stream_headers = list(stream_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in self.stream_routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    scope["app"] = self
                    await self._stream(route, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _stream(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, LimitedReceive(receive, self.max_body_bytes))
        try:
            response = await route.endpoint(request)
        except HTTPException as exc:  # from the host's authorize hook
            response = http_error_response(exc)
        except Exception:
            logger.exception("stream endpoint %s failed", route.path)
            response = error_response(500, "internal_error", GENERIC_FAILURE)
        response.raw_headers.extend(self.stream_headers)
        await response(scope, receive, send)


def create_app(
    dash_app: Dash | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
    settings: Settings | None = None,
    provider: Provider | None = None,
    authorize: Authorize | None = None,
) -> HybridApp:
    """The root ASGI app: native routes, and the Dash app through a2wsgi for every other path.

    With no `dash_app`, the built-in chat UI is served. `routes` are extra Starlette routes (for example
    `Route("/api/explain", hybrid.stream_endpoint(explain), methods=["POST"])`) served natively beside
    the mount. `POST /api/stream` streams the chat answers of `provider` (by default, from `settings`)
    for signed tickets only, which the chat page gets from `app.state.chat.issue` through a Dash callback.
    `authorize(request)` may refuse each stream request (see `hybrid.auth`).

    Mounted in another app (`outer.mount("/chat", app)`), every URL follows the mount path. Starlette
    does not run a mounted app's lifespan: nothing depends on it, but the host's lifespan may enter
    `app.router.lifespan_context(app)` to end streams and close the provider's connections on shutdown.
    """
    settings = settings or Settings()
    provider = provider or provider_from_settings(settings)
    # Dash callbacks run on a2wsgi threads; a short switch interval keeps them from holding the GIL
    # for the default 5 ms while tokens wait to be written.
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    key = secret_key(settings.secret_key)
    chat_stream = ChatStream(
        provider,
        allow_system_prompt=settings.allow_client_system_prompt,
        max_tokens=settings.max_tokens,
        signer=TicketSigner(key, max_age=settings.ticket_seconds),
    )
    if dash_app is None:
        from hybrid.ui import build_chat_app

        dash_app = build_chat_app(
            models=provider.models,
            allow_system_prompt=settings.allow_client_system_prompt,
            issue_ticket=chat_stream.issue,
        )

    streams = StreamSupervisor(max_streams=settings.max_streams)
    chat = stream_endpoint(
        chat_stream,
        keepalive_seconds=settings.keepalive_seconds,
        send_timeout=settings.send_timeout_seconds,
        supervisor=streams,
        limiter=ClientLimiter(
            per_minute=settings.client_rate_per_minute,
            burst=max(settings.client_rate_per_minute // 5, 1),
            concurrent=settings.client_streams,
        ),
    )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "streams": streams.active})

    metrics = Metrics()
    metrics.watch(streams, chat_stream, provider)
    streams.observers.append(log_outcome)
    readiness = Readiness(provider, streams, timeout=settings.ready_timeout_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            streams.drain()
            await provider.aclose()

    all_routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness.endpoint, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
        Route("/api/stream", chat, methods=["POST"], name="chat_stream"),
        *routes,
    ]
    app = HybridApp(
        routes=all_routes,
        # With CORS configured, streams take the ordinary path so that its headers apply.
        stream_routes=[]
        if _cors_origins(settings)
        else [r for r in all_routes if isinstance(r, Route) and is_stream_endpoint(r.endpoint)],
        max_body_bytes=settings.max_body_bytes,
        stream_headers=security_headers(settings.frame_ancestors),
        middleware=_middleware(settings),
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_error},
        lifespan=lifespan,
    )
    # Dash answers every path it is given (its pages), so it serves what no route matches. As a catch-all
    # `Mount("/")` it would also take a wrong method on a native route, answering a page instead of 405.
    dash_wsgi = serve_dash(dash_app, secret_key=key, threads=settings.wsgi_threads)
    metrics.watch_pool(dash_wsgi, threads=settings.wsgi_threads)
    app.router.default = DashCallbackGuard(dash_wsgi, callbacks=dash_app.callback_map)
    app.state.settings = settings
    app.state.provider = provider
    app.state.chat = chat_stream
    setattr(app.state, SUPERVISOR_STATE, streams)
    setattr(app.state, AUTHORIZE_STATE, authorize)
    app.state.dash = dash_app
    app.state.metrics = metrics
    return app


def _middleware(settings: Settings) -> list[Middleware]:
    """Pure ASGI middleware only: `BaseHTTPMiddleware` would break disconnect detection on streams."""
    stack = [Middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors)]
    origins = _cors_origins(settings)
    if origins:  # closed by default: no CORS headers, so browsers refuse cross-site reads
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type"],
            )
        )
    stack.append(Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes))
    return stack


def _cors_origins(settings: Settings) -> list[str]:
    return [origin.strip() for origin in settings.cors_origins.split(",") if origin.strip()]
