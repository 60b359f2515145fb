"""What the conversation store refuses, and why, as the JSON API will answer it.

Every refusal is an `ApiError`, so the routes built on the store need no translation: a conversation or
message that does not exist *or belongs to someone else* is `NotFound` (404, the same sentence either
way: an id must not tell whether it exists), a full history is `LimitReached` (409), a database that
fails while the server runs is `StoreUnavailable` (503 with `Retry-After`, so callers can say "history
is unavailable" and retry a save). A database that cannot be reached at start is `DatabaseUnavailable`,
a `ConfigurationError`: the server does not start.
"""

from __future__ import annotations

from hybrid._errors import ApiError, ConfigurationError

RETRY_AFTER_SECONDS = 5
"""What `StoreUnavailable` tells clients to wait: a restarting database or a failover takes seconds."""


class NotFound(ApiError):
    """No such conversation or message for this owner (it may exist, and belong to someone else)."""

    def __init__(self, what: str = "conversation") -> None:
        super().__init__(404, "not_found", f"no such {what}")


class StoreUnavailable(ApiError):
    """The database failed or did not answer in time: nothing was read or written; retry later."""

    def __init__(self, reason: str = "") -> None:
        """`reason`: what failed, for logs (the response never shows it)."""
        super().__init__(
            503,
            "history_unavailable",
            "the conversation history is unavailable right now; retry in a moment",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.reason = reason


class LimitReached(ApiError):
    """The owner keeps as much as `HYBRID_HISTORY_MAX_CONVERSATIONS` or `..._MAX_BYTES` allows."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(409, type, message)


class DatabaseUnavailable(ConfigurationError):
    """`HYBRID_DATABASE_URL` (or the default SQLite file) cannot be opened at start."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="database_unavailable")


def bad_request(type: str, message: str) -> ApiError:
    """A request the store cannot carry out as asked (a malformed cursor, an empty title, ...): 400."""
    return ApiError(400, type, message)


def conflict(type: str, message: str) -> ApiError:
    """A request that contradicts what is stored (finishing an answer that already ended, ...): 409."""
    return ApiError(409, type, message)
