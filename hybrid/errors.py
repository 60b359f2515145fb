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

    @classmethod
    def from_http(cls, exc: HTTPException) -> ApiError:
        """Starlette's `HTTPException` (405, a host hook's 401, ...) as an `ApiError`."""
        return cls(exc.status_code, "http_error", exc.detail, headers=exc.headers)

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


class BodyTooLarge(ApiError):
    """A request body past the size limit: raised while the body is read, answered 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "body_too_large", f"the request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


def error_response(
    status: int, type: str, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error body every hybrid endpoint uses."""
    return JSONResponse({"error": {"type": type, "message": message}}, status_code=status, headers=headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return exc.response()


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return ApiError.from_http(exc).response()
