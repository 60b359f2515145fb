"""`create_app`: the Starlette root that serves a Dash app through a2wsgi and streams natively."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Sequence

from a2wsgi import WSGIMiddleware
from dash import Dash
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from hybrid.chat import ChatStream
from hybrid.errors import ApiError, error_response, handle_api_error
from hybrid.middleware import BodyLimitMiddleware
from hybrid.providers import Provider
from hybrid.providers.select import provider_from_settings
from hybrid.settings import Settings
from hybrid.streaming import SUPERVISOR_STATE, StreamSupervisor, stream_endpoint


def create_app(
    dash_app: Dash | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
    settings: Settings | None = None,
    provider: Provider | None = None,
) -> Starlette:
    """The root ASGI app: native routes, and the Dash app through a2wsgi for every other path.

    With no `dash_app`, the built-in chat UI is served. `routes` are extra Starlette routes (for example
    `Route("/api/explain", hybrid.stream_endpoint(explain), methods=["POST"])`) served natively beside
    the mount. `POST /api/stream` streams the chat answers of `provider` (by default, from `settings`).
    """
    settings = settings or Settings()
    provider = provider or provider_from_settings(settings)
    # Dash callbacks run on a2wsgi threads; a short switch interval keeps them from holding the GIL
    # for the default 5 ms while tokens wait to be written.
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
    if dash_app is None:
        from hybrid.ui import build_chat_app

        dash_app = build_chat_app(
            models=provider.models, allow_system_prompt=settings.allow_client_system_prompt
        )

    streams = StreamSupervisor()
    chat = stream_endpoint(
        ChatStream(provider, allow_system_prompt=settings.allow_client_system_prompt),
        keepalive_seconds=settings.keepalive_seconds,
        send_timeout=settings.send_timeout_seconds,
        supervisor=streams,
    )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "streams": streams.active})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            streams.drain()
            await provider.aclose()

    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/api/stream", chat, methods=["POST"], name="chat_stream"),
            *routes,
        ],
        middleware=[Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)],
        exception_handlers={ApiError: handle_api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    # Dash answers every path it is given (its pages), so it serves what no route matches. As a catch-all
    # `Mount("/")` it would also take a wrong method on a native route, answering a page instead of 405.
    app.router.default = WSGIMiddleware(dash_app.server, workers=settings.wsgi_threads)
    app.state.settings = settings
    app.state.provider = provider
    setattr(app.state, SUPERVISOR_STATE, streams)
    app.state.dash = dash_app
    return app


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, "http_error", exc.detail, headers=exc.headers)
