"""`stream_endpoint`: a function of the request that yields events, as a route that streams them.

Every stream request goes through the same steps: the host's say, its body read within a deadline, a
place among the server's streams and the client's (`admitted`), then the source, delivered straight to
the client (`EventStreamResponse`) or by a `Delivery` the serving app plugs in.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, runtime_checkable

from starlette.requests import Request
from starlette.responses import Response

from hybrid._streams.admission import Admission, Limiter, admitted
from hybrid._streams.delivery import Delivery
from hybrid._streams.endings import close_source
from hybrid._streams.response import EventStreamResponse
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._web.authorize import Authorize
from hybrid._wire.sse import StreamEvent

Source = AsyncIterator[StreamEvent]
"""What a stream endpoint's function gives: the answer's events, as they come."""
SourceFunc = Callable[[Request], Source | Awaitable[Source]]
"""An async generator function of the request, or a coroutine function that checks the request and then
returns the source."""


@runtime_checkable
class ServingApp(Protocol):
    """What a stream endpoint takes from the app serving it (`HybridApp` is one)."""

    streams: StreamSupervisor
    authorize_hook: Authorize | None
    delivery: Delivery | None
    body_timeout: float
    """Seconds a request's body may take to arrive (`HYBRID_BODY_TIMEOUT_SECONDS`)."""


def stream_endpoint(
    func: SourceFunc,
    *,
    keepalive_seconds: float = 15.0,
    send_timeout: float = 30.0,
    supervisor: StreamSupervisor | None = None,
    limiter: Limiter | None = None,
    body_timeout: float | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """Turn `func(request)`, an async iterator of text deltas, into an SSE endpoint.

    `func` is an async generator function, or a coroutine function that validates the request (raising
    `ApiError` for a 4xx JSON answer) and then returns an async iterator. Each `str` it yields becomes a
    message the dash-extensions `SSE(concat=True)` component appends; an `Event` becomes a named event.
    The stream ends with `data: [DONE]`. If `func` raises, the user sees why the answer stopped.

    Open streams are admitted and counted by `supervisor` (503 past its cap); by default, by the one of
    the `hybrid.create_app` app serving the route, else by one of the endpoint's own. `limiter` adds
    per-client limits (429) before `func` runs. That app's `authorize` hook is asked first (401/403),
    then the body is read within `body_timeout` seconds (408; by default the serving app's
    `HYBRID_BODY_TIMEOUT_SECONDS`), before any place is taken. Served by that app, a request with
    `Hybrid-Resumable: 1` gets a resumable answer.
    """
    own_supervisor = StreamSupervisor()

    async def endpoint(request: Request) -> Response:
        host = request.scope.get("app")
        host = host if isinstance(host, ServingApp) else None
        streams = supervisor or (host.streams if host else own_supervisor)
        delivery = host.delivery if host else None
        if delivery is not None and not delivery.takes(request):
            delivery = None

        async def respond(admission: Admission) -> Response:
            source = func(request)
            if inspect.isawaitable(source):
                source = await source
            try:
                if delivery is not None:
                    return await delivery.deliver(
                        source,
                        request,
                        release=admission.release,
                        keepalive_seconds=keepalive_seconds,
                        send_timeout=send_timeout,
                    )
                return EventStreamResponse(
                    source,
                    keepalive_seconds=keepalive_seconds,
                    send_timeout=send_timeout,
                    supervisor=streams,
                    on_close=admission.release,
                )
            except BaseException:
                await close_source(source)  # nothing will read it: let it free what it holds now
                raise

        return await admitted(
            request,
            respond,
            streams=streams,
            authorize_hook=host.authorize_hook if host else None,
            limiter=limiter,
            body_timeout=body_timeout or (host.body_timeout if host else DEFAULT_BODY_TIMEOUT),
        )

    mark_stream_endpoint(endpoint)
    endpoint.__name__ = getattr(func, "__name__", "stream")
    endpoint.__doc__ = func.__doc__
    return endpoint


_STREAM_ENDPOINT = "_hybrid_stream_endpoint"
DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a body may take to arrive at an endpoint no hybrid app serves (`HYBRID_BODY_TIMEOUT_SECONDS`)."""


def mark_stream_endpoint(endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    """Let `HybridApp` run `endpoint` ahead of its middleware, as it runs `stream_endpoint`'s."""
    setattr(endpoint, _STREAM_ENDPOINT, True)


def is_stream_endpoint(endpoint: object) -> bool:
    """Whether `endpoint` was made by `stream_endpoint` (or marked by `mark_stream_endpoint`)."""
    return getattr(endpoint, _STREAM_ENDPOINT, False)
