"""hybrid's one exception family, and the JSON form of an error answer.

Every exception hybrid raises for a reason someone must act on is a `HybridError`, whose `message` is
the sentence that someone reads, and whose `type` names the reason for machines (metrics, logs, the
page's `event: error`):

* `ApiError`: a request refused, answered with its `status` and the JSON body
  `{"error": {"type": ..., "message": ...}}` that every hybrid endpoint uses;
* `StreamError`: an answer that cannot go on; the stream ends with `message` shown to the user (any
  other exception ends it with a generic sentence, so internal details never reach the page);
* `ConfigurationError`: a server that cannot start as configured (a bad setting, an unreachable store).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse


class HybridError(Exception):
    """The base of hybrid's exceptions: `message` is the sentence a person reads, `type` the reason's name."""

    def __init__(self, message: str, *, type: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.type = type


class ApiError(HybridError):
    """A request hybrid refuses, answered with `status` and a JSON body saying why."""

    def __init__(
        self, status: int, type: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, type=type)
        self.status = status
        self.headers = headers

    @classmethod
    def from_http(cls, exc: HTTPException) -> ApiError:
        """Starlette's `HTTPException` (405, a host hook's 401, ...) as an `ApiError`."""
        return cls(exc.status_code, "http_error", exc.detail, headers=exc.headers)

    def response(self) -> JSONResponse:
        return error_response(self.status, self.type, self.message, headers=self.headers)


class BodyTooLarge(ApiError):
    """A request body past the size limit: raised while the body is read, answered 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "body_too_large", f"the request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class StreamError(HybridError):
    """A failure while an answer streams, with a sentence the user can act on.

    The stream ends with `message` at the end of the answer; any other exception is shown as a generic
    failure, so internal details never reach the page.
    """

    def __init__(self, message: str, *, type: str = "stream_error") -> None:
        super().__init__(message, type=type)


class ConfigurationError(HybridError):
    """The server cannot start as configured; `message` says what to change."""

    def __init__(self, message: str, *, type: str = "configuration") -> None:
        super().__init__(message, type=type)


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
