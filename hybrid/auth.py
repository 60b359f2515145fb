"""The host's say on each stream request: `create_app(authorize=...)`.

The hook sees the Starlette `Request` after the host's middleware ran, so `request.user` (Starlette's
`AuthenticationMiddleware`), `request.scope` and the cookies are there to decide with. It runs before a
stream is admitted or its body read, so a refused client costs nothing and uses none of its rate limit.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from hybrid.errors import ApiError

Authorize = Callable[[Request], bool | Awaitable[bool | None] | None]
"""Allows a stream request by returning (anything but `False`), refuses it by returning `False` (403)
or by raising `ApiError` (e.g. 401) or Starlette's `HTTPException`; may be async."""

AUTHORIZE_STATE = "hybrid_authorize"
"""The `app.state` attribute holding an app's `Authorize` hook."""


async def authorize(request: Request) -> None:
    """Apply the hook of the hybrid app serving `request`, if it has one; raise `ApiError` to refuse."""
    hook: Authorize | None = getattr(request.app.state, AUTHORIZE_STATE, None)
    if hook is None:
        return
    verdict = hook(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    if verdict is False:
        raise ApiError(403, "forbidden", "you are not allowed to use this stream")
