"""The routes of resumable answers: `GET` resumes one, `DELETE` stops it (see `resumable.py`)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hybrid._answers.resumable import ANSWER_PATH, TOKEN_HEADER, Answers
from hybrid._errors import ApiError
from hybrid._streams.admission import Admission, Limiter, admitted
from hybrid._streams.endpoint import mark_stream_endpoint
from hybrid._streams.supervisor import StreamSupervisor
from hybrid._web.authorize import Authorize, authorize
from hybrid._web.identity import user_of

MAX_EVENT_ID = 10**12


@runtime_checkable
class AnswersHost(Protocol):
    """What the answer routes take from the app serving them (`HybridApp` is one)."""

    streams: StreamSupervisor
    authorize_hook: Authorize | None
    answers: Answers
    limiter: Limiter | None
    """The per-client limits a resume is admitted by, as a new stream is: one client's resumes count
    against its streams and its rate."""


def answer_routes(*, keepalive_seconds: float, send_timeout: float) -> list[Route]:
    """`GET` and `DELETE` on `ANSWER_PATH`, for the answers of the app serving them."""

    async def resume(request: Request) -> Response:
        """Replay an answer after `Last-Event-ID`, then follow it live; 204 when there is nothing left."""
        host = _host(request)

        async def respond(admission: Admission) -> Response:
            response = await host.answers.resume(
                request.path_params["answer_id"],
                request.headers.get(TOKEN_HEADER),
                _last_event_id(request),
                user=user_of(request.scope),
                release=admission.release,
                keepalive_seconds=keepalive_seconds,
                send_timeout=send_timeout,
            )
            if response is None:
                admission.release()
                host.answers.count_resume("gone")
                return Response(status_code=204)
            return response

        return await admitted(
            request,
            respond,
            streams=host.streams,
            authorize_hook=host.authorize_hook,
            limiter=host.limiter,
            on_refused=host.answers.resume_refused,
        )

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


def _host(request: Request) -> AnswersHost:
    host = request.scope.get("app")
    if not isinstance(host, AnswersHost):
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
