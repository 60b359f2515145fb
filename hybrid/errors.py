"""Errors with a message meant for the user, and their JSON form.

Every error response hybrid sends has the body `{"error": {"type": ..., "message": ...}}`.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse


class ApiError(Exception):
    """A request hybrid refuses, answered with `status` and a JSON body saying why."""

    def __init__(
        self, status: int, type: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(self.status, self.type, self.message, headers=self.headers)


class StreamError(Exception):
    """A failure while an answer streams, with a sentence the user can act on.

    `stream_endpoint` shows `user_message` at the end of the answer; any other exception is shown as a
    generic failure, so internal details never reach the page.
    """

    def __init__(self, user_message: str, *, type: str = "stream_error") -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.type = type


def error_response(
    status: int, type: str, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every hybrid endpoint uses."""
    return JSONResponse({"error": {"type": type, "message": message}}, status_code=status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


def http_error_response(exc: HTTPException) -> JSONResponse:
    """Starlette's `HTTPException` (405, a host hook's 401, ...) in hybrid's JSON form."""
    return error_response(exc.status_code, "http_error", exc.detail, headers=exc.headers)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return http_error_response(exc)
