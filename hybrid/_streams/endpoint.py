"""`stream_endpoint`: a function of the request that yields events, as a route that streams them.

Every stream request goes through the same steps: the host's say, a place among the server's streams
and the client's (`admitted`), its body read, then the source, delivered straight to the client
(`EventStreamResponse`) or by a `Delivery` the serving app plugs in.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, runtime_checkable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from hybrid._errors import ApiError
from hybrid._streams.admission import Admission, admitted
from hybrid._streams.delivery import Delivery
from hybrid._streams.endings import close_source
from hybrid._streams.limits import Release, client_of
from hybrid._streams.response import EventStreamResponse
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._web.authorize import Authorize
from hybrid._wire.sse import StreamEvent

Source = AsyncIterator[StreamEvent]
"""What a stream endpoint's function gives: the answer's events, as they come."""
SourceFunc = Callable[[Request], Source | Awaitable[Source]]
"""An async generator function of the request, or a coroutine function that checks the request and then
returns the source."""


class Limiter(Protocol):
    """Per-client limits: a `ClientLimiter`, or a Redis one (whose `admit` is a coroutine: the limits are
    counted in Redis)."""

    def admit(self, key: str) -> Release | Awaitable[Release]: ...


@runtime_checkable
class ServingApp(Protocol):
    """What a stream endpoint takes from the app serving it (`HybridApp` is one)."""

    streams: StreamSupervisor
    authorize_hook: Authorize | None
    delivery: Delivery | None


def stream_endpoint(
    func: SourceFunc,
    *,
    keepalive_seconds: float = 15.0,
    send_timeout: float = 30.0,
    supervisor: StreamSupervisor | None = None,
    limiter: Limiter | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """Turn `func(request)`, an async iterator of text deltas, into an SSE endpoint.

    `func` is an async generator function, or a coroutine function that validates the request (raising
    `ApiError` for a 4xx JSON answer) and then returns an async iterator. Each `str` it yields becomes a
    message the dash-extensions `SSE(concat=True)` component appends; an `Event` becomes a named event.
    The stream ends with `data: [DONE]`. If `func` raises, the user sees why the answer stopped.

    Open streams are admitted and counted by `supervisor` (503 past its cap); by default, by the one of
    the `hybrid.create_app` app serving the route, else by one of the endpoint's own. `limiter` adds
    per-client limits (429) before `func` runs. That app's `authorize` hook is asked first (401/403).
    Served by that app, a request with `Hybrid-Resumable: 1` gets a resumable answer.
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
            if limiter is not None:
                taken = limiter.admit(client_of(request))
                admission.hold(await taken if inspect.isawaitable(taken) else taken)
            # Read (and cache) the body now: once the stream starts, the response listens on `receive`
            # for the disconnect, and a generator reading the body then would race it for the messages.
            await _read_body(request)
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
            request, respond, streams=streams, authorize_hook=host.authorize_hook if host else None
        )

    mark_stream_endpoint(endpoint)
    endpoint.__name__ = getattr(func, "__name__", "stream")
    endpoint.__doc__ = func.__doc__
    return endpoint


_STREAM_ENDPOINT = "_hybrid_stream_endpoint"


async def _read_body(request: Request) -> None:
    """Read the body (`request.body()` keeps it); a client that leaves on the way is refused, not a bug."""
    try:
        await request.body()
    except ClientDisconnect:
        raise ApiError(
            400, "client_disconnected", "the client left before it sent the whole request"
        ) from None


def mark_stream_endpoint(endpoint: Callable[[Request], Awaitable[Response]]) -> None:
    """Let `HybridApp` run `endpoint` ahead of its middleware, as it runs `stream_endpoint`'s."""
    setattr(endpoint, _STREAM_ENDPOINT, True)


def is_stream_endpoint(endpoint: object) -> bool:
    """Whether `endpoint` was made by `stream_endpoint` (or marked by `mark_stream_endpoint`)."""
    return getattr(endpoint, _STREAM_ENDPOINT, False)
