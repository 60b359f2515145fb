"""What every stream request goes through before it streams: the host's say, its body, its places.

A stream request (a new stream, or a resume of an answer) is authorized, its body read within a deadline,
then it takes a place among the server's streams and its client's (`Admission`). Nothing is held while a
client is slow to send: six connections dripping a byte a second would otherwise hold places for as long
as they liked. A refusal at any step gives back whatever was taken, is reported, and is answered with its
JSON error; `admitted` does that for both routes.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from hybrid._errors import ApiError
from hybrid._streams.limits import Release, client_of
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._web.authorize import Authorize, authorize
from hybrid._web.identity import user_of
from hybrid._web.request_id import bind_request_id


class Admission:
    """The places one stream request holds (the server's, its client's); `release` gives back all of them.

    Places are taken one by one, and a refusal can come at any step: whatever was taken by then is
    given back by the same call, once.
    """

    __slots__ = ("_releases",)

    def __init__(self) -> None:
        self._releases: list[Release] = []

    def hold(self, release: Release) -> None:
        self._releases.append(release)

    def release(self) -> None:
        releases, self._releases = self._releases, []
        for release in reversed(releases):
            release()


class Limiter(Protocol):
    """Per-client limits: a `ClientLimiter`, or a Redis one (whose `admit` is a coroutine: the limits are
    counted in Redis)."""

    def admit(self, key: str) -> Release | Awaitable[Release]: ...


Respond = Callable[[Admission], Awaitable[Response]]
"""Makes the response of an admitted request; it hands `admission.release` on to the response (which
gives the places back when it ends), or calls it itself when it answers without streaming."""


async def admitted(
    request: Request,
    respond: Respond,
    *,
    streams: StreamSupervisor,
    authorize_hook: Authorize | None,
    limiter: Limiter | None = None,
    body_timeout: float | None = None,
    on_refused: Callable[[ApiError], None] | None = None,
) -> Response:
    """Authorize `request`, read its body within `body_timeout` seconds (None: it has none), take its
    place among `streams` and its client's in `limiter`, then answer with `respond(admission)`.

    A refusal on the way (`ApiError`, or Starlette's `HTTPException`) gives every place back, is
    reported (to `on_refused`, then to the supervisor's hooks) and answered with its JSON error; any
    other exception, a cancellation included, gives them back too and propagates.
    """
    # In this task's context: the stream's log lines, its provider request and its response carry it.
    request_id = bind_request_id(request.headers.get("x-request-id"), signed_in=user_of(request.scope))
    admission = Admission()
    try:
        await authorize(request, authorize_hook)  # before it costs anything
        if body_timeout is not None:
            await read_body(request, body_timeout)
        admission.hold(streams.admit())
        if limiter is not None:
            taken = limiter.admit(client_of(request))
            admission.hold(await taken if inspect.isawaitable(taken) else taken)
        response = await respond(admission)
    except (ApiError, HTTPException) as exc:
        admission.release()
        error = exc if isinstance(exc, ApiError) else ApiError.from_http(exc)
        if on_refused is not None:
            on_refused(error)
        streams.refused(error)
        return error.response()
    except BaseException:
        admission.release()
        raise
    response.headers["X-Request-ID"] = request_id
    return response


async def read_body(request: Request, seconds: float) -> None:
    """Read the whole body within `seconds` (`request.body()` keeps it): 408 past them, 400 for a client
    that leaves on the way.

    Read now, once: when the stream starts, its response listens on `receive` for the disconnect, and a
    source reading the body then would race it for the messages.
    """
    try:
        await asyncio.wait_for(request.body(), seconds)
    except TimeoutError:
        raise ApiError(
            408, "body_timeout", f"the request's body did not arrive within {seconds:g} s"
        ) from None
    except ClientDisconnect:
        raise ApiError(
            400, "client_disconnected", "the client left before it sent the whole request"
        ) from None
