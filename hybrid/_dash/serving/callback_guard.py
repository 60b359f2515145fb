"""`DashCallbackGuard`: malformed Dash callback requests get a 400 JSON error instead of Dash's 500."""

from __future__ import annotations

import json
from collections.abc import Container

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid._errors import error_response


class DashCallbackGuard:
    """Answers 400 with a JSON error for callback requests Dash would crash on (it answers them 500).

    Dash trusts the shape of `POST /_dash-update-component`; a malformed body raises inside it. This
    checks the shape first and hands the buffered body on unchanged.
    """

    REQUIRED = ("output", "outputs", "inputs", "changedPropIds")

    def __init__(self, app: ASGIApp, callbacks: Container[str]) -> None:
        self.app = app
        self.callbacks = callbacks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith("/_dash-update-component")
        ):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _callback_problem(body, self.callbacks)
        if problem:
            await error_response(400, "invalid_callback", problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _callback_problem(body: bytes, callbacks: Container[str]) -> str | None:
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return "a callback request must be a JSON object"
    if not isinstance(request, dict):
        return "a callback request must be a JSON object"
    missing = [key for key in DashCallbackGuard.REQUIRED if key not in request]
    if missing:
        return f"the callback request lacks `{missing[0]}`"
    if not isinstance(request["inputs"], list) or not isinstance(request["changedPropIds"], list):
        return "`inputs` and `changedPropIds` must be lists"
    if not isinstance(request["output"], str) or request["output"] not in callbacks:
        return "the callback request names no callback of this app"
    return None
