"""What every stream request goes through before it streams: the host's say, its places, its refusal.

A stream request (a new stream, or a resume of an answer) is authorized, then takes a place among the
server's streams and maybe its client's (`Admission`). A refusal at any step gives back whatever was
taken, is reported, and is answered with its JSON error; `admitted` does that for both routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from hybrid._errors import ApiError
from hybrid._streams.limits import Release
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


Respond = Callable[[Admission], Awaitable[Response]]
"""Makes the response of an admitted request; it hands `admission.release` on to the response (which
gives the places back when it ends), or calls it itself when it answers without streaming."""


async def admitted(
    request: Request,
    respond: Respond,
    *,
    streams: StreamSupervisor,
    authorize_hook: Authorize | None,
    on_refused: Callable[[ApiError], None] | None = None,
) -> Response:
    """Authorize `request`, take its place among `streams`, then answer with `respond(admission)`.

    A refusal on the way (`ApiError`, or Starlette's `HTTPException`) gives every place back, is
    reported (to `on_refused`, then to the supervisor's hooks) and answered with its JSON error; any
    other exception, a cancellation included, gives them back too and propagates.
    """
    # In this task's context: the stream's log lines, its provider request and its response carry it.
    request_id = bind_request_id(request.headers.get("x-request-id"), signed_in=user_of(request.scope))
    admission = Admission()
    try:
        await authorize(request, authorize_hook)  # before it costs anything
        admission.hold(streams.admit())
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
