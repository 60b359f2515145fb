"""`create_app`: the Starlette root that serves a Dash app through a2wsgi and streams natively."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dash import Dash
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.status import WS_1008_POLICY_VIOLATION
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from hybrid._answers.metrics import AnswerInstruments, instruments_for
from hybrid._answers.resumable import Answers
from hybrid._answers.routes import answer_routes
from hybrid._chat.models import ChatModels
from hybrid._chat.stream import CHAT_STREAM_PATH, ChatStream
from hybrid._chat.tickets import TicketSigner
from hybrid._dash.chat.wiring import attach_chats, find_chats
from hybrid._dash.serving.app import bridge_dash, check_backend, with_files
from hybrid._dash.serving.callback_guard import DashCallbackGuard
from hybrid._dash.serving.dev_routes import DevRoutesClosed
from hybrid._errors import ApiError, error_response, handle_api_error, handle_http_error
from hybrid._ops.exposure import Exposure, bound_addresses
from hybrid._ops.health import Readiness
from hybrid._ops.logs import LoggingHooks
from hybrid._ops.metrics import Metrics
from hybrid._ops.process import secret_key
from hybrid._providers.base import Provider, ReportsFailures
from hybrid._providers.select import provider_from_settings
from hybrid._settings import Settings
from hybrid._streams.admission import Limiter
from hybrid._streams.delivery import Delivery
from hybrid._streams.endpoint import is_stream_endpoint, stream_endpoint
from hybrid._streams.hooks import StreamHooks
from hybrid._streams.limits import ClientLimiter
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._tools.threads import SyncThreads
from hybrid._web.authorize import Authorize
from hybrid._web.body_limit import BodyLimitMiddleware, LimitedReceive
from hybrid._web.cross_site import CrossSite, CrossSiteMiddleware
from hybrid._web.identity import UserHeader
from hybrid._web.security import ContentSecurityPolicy, SecurityHeadersMiddleware, security_headers
from hybrid._wire.sse import GENERIC_FAILURE

if TYPE_CHECKING:  # imported when HYBRID_REDIS_URL is set: the Redis client is an extra
    from hybrid._stores.redis.shared import SharedState

logger = logging.getLogger("hybrid.app")


class HybridApp(Starlette):
    """The Starlette root `create_app` returns: event streams run ahead of its middleware stack.

    An open stream would otherwise keep a frame of every middleware alive for its whole life and pass
    each event through their `send` wrappers (about 8 KB per stream and 1 µs per event; see the benchmark
    report). So routes made by `stream_endpoint` are matched first and run directly, with what the
    stack does for them done here: the body limit, JSON errors, the security headers. Everything else
    takes the ordinary path through the middleware.

    With `users` (`HYBRID_USER_HEADER`), every request must name its signed-in user, streams and
    websockets included. `exposure` warns when a public server lets anyone spend money.

    What the app is made of is in its attributes: `settings`, `provider`, `chat` (the chat stream, whose
    `issue` signs tickets), `streams` (the supervisor), `answers` (resumable answers, the `delivery` its
    stream endpoints plug in), `limiter` (the clients' limits), `authorize_hook`, `users`, `dash_app`
    and `metrics`. Requests that change state from other sites are refused (`cross_site`), streams
    included.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        provider: Provider,
        chat: ChatStream,
        streams: StreamSupervisor,
        answers: Answers,
        metrics: Metrics,
        dash_app: Dash,
        authorize_hook: Authorize | None,
        users: UserHeader | None,
        csp: ContentSecurityPolicy,
        limiter: Limiter | None = None,
        cross_site: CrossSite | None = None,
        stream_routes: Sequence[Route] = (),
        **starlette: Any,
    ) -> None:
        super().__init__(**starlette)
        self.settings = settings
        self.limiter = limiter
        """The per-client limits of the chat stream and of every resume (one object: they count together)."""
        self.body_timeout = settings.body_timeout_seconds
        self.cross_site = cross_site or CrossSite(settings.cors_origin_list)
        self.provider = provider
        self.chat = chat
        self.streams = streams
        self.answers = answers
        self.delivery: Delivery | None = answers
        self.metrics = metrics
        self.dash_app = dash_app
        self.authorize_hook = authorize_hook
        self.users = users
        self.stream_routes = tuple(stream_routes)
        self._stream_headers = security_headers(csp.for_other())
        self.exposure = Exposure(
            paid=provider.name != "demo", guarded=users is not None or authorize_hook is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            if self.exposure.watching and scope.get("server"):
                self.exposure.check([scope["server"]])  # for servers that did not say where they listen
            if self.users is not None:
                refusal = self.users.admit(scope)
                if refusal is not None:
                    await self._refuse(refusal, scope, receive, send)
                    return
        if scope["type"] == "http":
            for route in self.stream_routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    refusal = self.cross_site.refusal(scope)  # as the middleware would
                    if refusal is not None:
                        await self._refuse(refusal, scope, receive, send)
                        return
                    scope.update(child_scope)
                    scope["app"] = self
                    await self._stream(route, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    async def _stream(self, route: Route, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, LimitedReceive(receive, self.settings.max_body_bytes))
        try:
            response: Response = await route.endpoint(request)
        except Exception:
            logger.exception("stream endpoint %s failed", route.path)
            response = error_response(500, "internal_error", GENERIC_FAILURE)
        response.raw_headers.extend(self._stream_headers)
        await response(scope, receive, send)

    async def _refuse(self, refusal: Response, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer `refusal` (a 401 for want of a user); a websocket gets it as its handshake's answer
        where the server can send one, else a close with policy violation (1008)."""
        refusal.raw_headers.extend(self._stream_headers)
        if scope["type"] == "http":
            await refusal(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            await WebSocket(scope, receive, send).send_denial_response(refusal)
        else:
            await WebSocket(scope, receive, send).close(WS_1008_POLICY_VIOLATION)


def create_app(
    dash_app: Dash | None = None,
    *,
    routes: Sequence[BaseRoute] = (),
    settings: Settings | None = None,
    provider: Provider | None = None,
    authorize: Authorize | None = None,
    hooks: Iterable[StreamHooks] = (),
) -> HybridApp:
    """The root ASGI app: native routes, and the Dash app through a2wsgi for every other path.

    `settings` default to the environment's (`Settings.from_env()`). With no `dash_app`, the built-in chat
    UI is served. Every `hybrid.Chat` in the app's layout (or its
    pages' layouts) is served, with no other wiring. `routes` are extra Starlette routes (for example
    `Route("/api/explain", hybrid.stream_endpoint(explain), methods=["POST"])`) served natively beside
    the mount. `POST /api/stream` streams the chat answers of `provider` (by default, from `settings`)
    and the app's Chats for signed tickets only, which a Chat gets from a Dash callback of its own.
    `authorize(request)` may refuse each stream request (see `hybrid.Authorize`); `hooks` are told of every
    stream as it opens, is refused and ends (see `hybrid.StreamHooks`).

    Mounted in another app (`outer.mount("/chat", app)`), every URL follows the mount path. Starlette
    does not run a mounted app's lifespan: nothing depends on it, but the host's lifespan may enter
    `app.router.lifespan_context(app)` to end streams and close the provider's connections on shutdown.
    """
    settings = settings or Settings.from_env()
    metrics = Metrics()
    instruments = instruments_for(metrics.instruments.registry)
    shared = _shared_state(settings, instruments)
    owns_provider = provider is None  # one the caller passed in is the caller's to close
    provider = provider or provider_from_settings(settings)
    key = secret_key(settings.secret_key)
    streams = StreamSupervisor(max_streams=settings.max_streams, hooks=[metrics, LoggingHooks(), *hooks])
    answers = _answers(settings, streams, instruments, shared)
    if isinstance(provider, ReportsFailures):
        provider.report_failures(streams.hooks.provider_failed)
    users = UserHeader(settings.user_header) if settings.user_header else None
    limiter = _client_limiter(settings, shared)
    chat = _chat_stream(settings, provider, key, streams.hooks, shared)
    dash_app = dash_app or _chat_page(settings, provider)
    check_backend(dash_app)
    attach_chats(dash_app, find_chats(dash_app), chat, page={"resumeGraceSeconds": answers.grace})
    _dev_tools(settings, dash_app)
    cross_site = CrossSite(settings.cors_origin_list)
    if cross_site.any:
        logger.warning(
            "HYBRID_CORS_ORIGINS='*' (HYBRID_CORS_ALLOW_ANY_ORIGIN): every site may sign tickets and stream "
            "answers with its visitors' browsers, spending this server's model budget"
        )
    csp = ContentSecurityPolicy(
        frame_ancestors=settings.frame_ancestors,
        script_sources=settings.script_sources,
        inline_hashes=dash_app.csp_hashes,
    )
    native = [
        *_probes(settings, provider, streams, answers, metrics),
        Route(
            CHAT_STREAM_PATH,
            _chat_endpoint(settings, chat, streams, limiter),
            methods=["POST"],
            name="chat_stream",
        ),
        *answer_routes(
            keepalive_seconds=settings.keepalive_seconds, send_timeout=settings.send_timeout_seconds
        ),
        *routes,
    ]
    app = HybridApp(
        settings=settings,
        provider=provider,
        chat=chat,
        streams=streams,
        answers=answers,
        metrics=metrics,
        dash_app=dash_app,
        authorize_hook=authorize,
        users=users,
        csp=csp,
        limiter=limiter,
        cross_site=cross_site,
        routes=native,
        # With CORS configured, streams take the ordinary path so that its headers apply.
        stream_routes=[] if settings.cors_origin_list else _stream_routes(native),
        middleware=_middleware(settings, csp, cross_site),
        exception_handlers={ApiError: handle_api_error, HTTPException: handle_http_error},
        lifespan=_lifespan(streams, answers, provider if owns_provider else None, shared),
    )
    # Dash answers every path it is given (its pages), so it serves what no route matches. As a catch-all
    # `Mount("/")` it would also take a wrong method on a native route, answering a page instead of 405.
    app.router.default = _dash_default(settings, dash_app, key, metrics)
    addresses = bound_addresses()
    if addresses is not None:
        app.exposure.check(addresses)  # at start-up, where operators look; other servers: on requests
    return app


def _shared_state(settings: Settings, instruments: AnswerInstruments) -> SharedState | None:
    """The Redis shared by every worker and host (`HYBRID_REDIS_URL`); refuses to start if unreachable."""
    if not settings.redis_url:
        return None
    from hybrid._stores.redis.shared import SharedState

    return SharedState(
        settings.redis_url, on_error=lambda operation: instruments.redis_errors.labels(operation).inc()
    )


def _chat_stream(
    settings: Settings, provider: Provider, key: str, hooks: StreamHooks, shared: SharedState | None
) -> ChatStream:
    """The chat stream's tickets (once-only in the cluster with Redis) and what answers run on."""
    return ChatStream(
        ChatModels(provider, max_tokens=settings.max_tokens, hooks=hooks),
        signer=TicketSigner(key, max_age=settings.ticket_seconds, nonces=shared.nonces() if shared else None),
        answer_threads=SyncThreads(settings.answer_threads, purpose="answer"),
        tool_threads=SyncThreads(settings.tool_threads, purpose="tool"),
        max_context_chars=settings.max_context_chars,
        ticket_limits=_ticket_limits(settings),
    )


def _ticket_limits(settings: Settings) -> ClientLimiter | None:
    """How many tickets a client may have signed (in this process: signing runs on Dash's threads)."""
    per_minute = settings.client_tickets_per_minute
    if not per_minute:
        return None
    return ClientLimiter(per_minute=per_minute, burst=max(per_minute // 5, 1), concurrent=0)


def _answers(
    settings: Settings,
    streams: StreamSupervisor,
    instruments: AnswerInstruments,
    shared: SharedState | None,
) -> Answers:
    """Resumable answers: in this worker's memory, and in Redis for every worker with `HYBRID_REDIS_URL`."""
    log = None
    if shared is not None:
        log = shared.answer_log(
            max_frames=settings.resume_max_events, reader_lease=settings.resume_grace_seconds
        )
    return Answers(
        streams,
        grace=settings.resume_grace_seconds,
        max_frames=settings.resume_max_events,
        max_readers=settings.resume_readers,
        max_ended=settings.resume_ended_answers,
        max_ended_bytes=settings.resume_ended_bytes,
        log=log,
        instruments=instruments,
    )


def _chat_page(settings: Settings, provider: Provider) -> Dash:
    """The built-in chat page, when the app serves no Dash app of its own."""
    from hybrid._dash.page.app import build_chat_app

    return build_chat_app(models=provider.models, allow_system_prompt=settings.allow_client_system_prompt)


def _dev_tools(settings: Settings, dash_app: Dash) -> None:
    """`HYBRID_DEBUG`: Dash's dev tools, as `app.run(debug=True)` gives them (error pop-ups, callback graph,
    hot reload)."""
    if settings.debug:
        dash_app.enable_dev_tools(debug=True)


def _client_limiter(settings: Settings, shared: SharedState | None) -> Limiter:
    """The per-client limits of new streams and resumes alike (per process, or across the cluster with
    Redis)."""
    limits = {
        "per_minute": settings.client_rate_per_minute,
        "burst": max(settings.client_rate_per_minute // 5, 1),
        "concurrent": settings.client_streams,
    }
    return shared.limiter(**limits) if shared else ClientLimiter(**limits)


def _chat_endpoint(settings: Settings, chat: ChatStream, streams: StreamSupervisor, limiter: Limiter) -> Any:
    """`POST /api/stream`, with the server's stream settings and the clients' limits."""
    return stream_endpoint(
        chat,
        keepalive_seconds=settings.keepalive_seconds,
        send_timeout=settings.send_timeout_seconds,
        supervisor=streams,
        limiter=limiter,
        body_timeout=settings.body_timeout_seconds,
    )


def _probes(
    settings: Settings, provider: Provider, streams: StreamSupervisor, answers: Answers, metrics: Metrics
) -> list[Route]:
    """Liveness (with the streams and resumes open), readiness and metrics."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "streams": streams.active, "resumes": answers.resumes_open})

    readiness = Readiness(provider, streams, timeout=settings.ready_timeout_seconds)
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readiness.endpoint, methods=["GET"]),
        Route("/metrics", metrics.endpoint, methods=["GET"]),
    ]


def _stream_routes(routes: Iterable[BaseRoute]) -> list[Route]:
    return [route for route in routes if isinstance(route, Route) and is_stream_endpoint(route.endpoint)]


def _lifespan(
    streams: StreamSupervisor, answers: Answers, provider: Provider | None, shared: SharedState | None
) -> Any:
    """At shutdown: end the streams, let resumable answers finish within the grace, and close what this
    app opened (a `provider` of the app's own; None when the caller passed one in)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            streams.drain()
            await answers.close()  # with Redis: answers in progress generate on, within the grace
            if provider is not None:
                await provider.aclose()
            if shared is not None:
                await shared.close()

    return lifespan


def _dash_default(settings: Settings, dash_app: Dash, key: str, metrics: Metrics) -> ASGIApp:
    """What serves every path no native route matches: Dash's files natively, the rest on a counted pool
    of a2wsgi threads, gzipped for clients that accept it; Dash's development routes only in debug."""
    bridge = bridge_dash(dash_app, secret_key=key, executor=metrics.wsgi_pool(settings.wsgi_threads))
    served = with_files(dash_app, DashCallbackGuard(bridge, callbacks=dash_app.callback_map))
    return served if settings.debug else DevRoutesClosed(served, dash_app)


def _middleware(settings: Settings, csp: ContentSecurityPolicy, cross_site: CrossSite) -> list[Middleware]:
    """Pure ASGI middleware only: `BaseHTTPMiddleware` would break disconnect detection on streams."""
    stack = [Middleware(SecurityHeadersMiddleware, csp=csp)]
    origins = list(settings.cors_origin_list)
    if origins:  # closed by default: no CORS headers, so browsers refuse cross-site reads
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["content-type", "hybrid-resumable", "hybrid-resume-token", "last-event-id"],
            )
        )
    stack.append(Middleware(CrossSiteMiddleware, cross_site=cross_site))  # after CORS: preflights pass
    stack.append(Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes))
    return stack
