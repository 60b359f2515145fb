"""The host's say on each stream request: `create_app(authorize=...)`.

The hook sees the Starlette `Request` after the host's middleware ran, so `request.user` (Starlette's
`AuthenticationMiddleware`), `request.scope` and the cookies are there to decide with. It runs before a
stream is admitted or its body read, so a refused client costs nothing and uses none of its rate limit.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request

from hybrid._errors import ApiError

Authorize = Callable[[Request], bool | Awaitable[bool | None] | None]
"""Allows a stream request by returning (anything but `False`), refuses it by returning `False` (403)
or by raising `ApiError` (e.g. 401) or Starlette's `HTTPException`; may be async."""


async def authorize(request: Request, hook: Authorize | None) -> None:
    """Ask `hook` about `request`; raise `ApiError` (whatever the hook raised or returned) to refuse."""
    if hook is None:
        return
    try:
        verdict = hook(request)
        if inspect.isawaitable(verdict):
            verdict = await verdict
    except HTTPException as exc:
        raise ApiError.from_http(exc) from None
    if verdict is False:
        raise ApiError(403, "forbidden", "you are not allowed to use this stream")
