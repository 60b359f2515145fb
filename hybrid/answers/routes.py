"""The routes of resumable answers: `GET` resumes one, `DELETE` stops it (see `hybrid.answers.hub`)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hybrid.answers.hub import ANSWER_PATH, TOKEN_HEADER
from hybrid.auth import authorize
from hybrid.errors import ApiError
from hybrid.identity import user_of
from hybrid.logs import bind_request_id
from hybrid.streaming import StreamHost, mark_stream_endpoint

MAX_EVENT_ID = 10**12


def answer_routes(*, keepalive_seconds: float, send_timeout: float) -> list[Route]:
    """`GET` and `DELETE` on `ANSWER_PATH`, for the answers of the app serving them."""

    async def resume(request: Request) -> Response:
        """Replay an answer after `Last-Event-ID`, then follow it live; 204 when there is nothing left."""
        host = _host(request)
        request_id = bind_request_id(request.headers.get("x-request-id"), signed_in=user_of(request.scope))
        streams = host.streams
        release = None
        try:
            await authorize(request, host.authorize_hook)
            after = _last_event_id(request)
            release = streams.admit()
            response = await host.answers.resume(
                request.path_params["answer_id"],
                request.headers.get(TOKEN_HEADER),
                after,
                user=user_of(request.scope),
                release=release,
                keepalive_seconds=keepalive_seconds,
                send_timeout=send_timeout,
            )
        except (ApiError, HTTPException) as exc:
            if release is not None:
                release()
            error = exc if isinstance(exc, ApiError) else ApiError.from_http(exc)
            host.answers.count_resume("unavailable" if error.status == 503 else "refused")
            streams.refused(error)
            return error.response()
        except BaseException:
            if release is not None:
                release()
            raise
        if response is None:
            release()
            host.answers.count_resume("gone")
            return Response(status_code=204)
        response.headers["X-Request-ID"] = request_id
        return response

    async def stop(request: Request) -> Response:
        """Stop an answer now, wherever it generates: the client's Stop button."""
        host = _host(request)
        await authorize(request, host.authorize_hook)
        await host.answers.stop(
            request.path_params["answer_id"], request.headers.get(TOKEN_HEADER), user=user_of(request.scope)
        )
        return Response(status_code=204)

    mark_stream_endpoint(resume)
    return [
        Route(ANSWER_PATH, resume, methods=["GET"], name="resume_answer"),
        Route(ANSWER_PATH, stop, methods=["DELETE"], name="stop_answer"),
    ]


def _host(request: Request) -> StreamHost:
    host = request.scope.get("app")
    if not isinstance(host, StreamHost):
        raise RuntimeError("answer routes are served by hybrid.create_app's app only")
    return host


def _last_event_id(request: Request) -> int:
    """The id of the last event the client received (0: none); 400 when it is not one of ours."""
    raw = request.headers.get("last-event-id", "").strip()
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_EVENT_ID:
        raise ApiError(400, "invalid_last_event_id", "Last-Event-ID must be the id of an event received")
    return int(raw)
