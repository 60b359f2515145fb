"""`DashCallbackGuard`: malformed Dash callback requests get a 400 JSON error instead of Dash's 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hybrid._errors import error_response
from hybrid._web.json_body import is_unicode


class DashCallbackGuard:
    """Answers 400 with a JSON error for callback requests Dash would crash on (it answers them 500).

    Dash trusts the shape of `POST /_dash-update-component`; a malformed body raises inside it. This
    checks the shape first, against the callback it names in `callbacks` (the app's `callback_map`: as
    many inputs, states and outputs as it declares), and hands the buffered body on unchanged.
    """

    REQUIRED = ("output", "outputs", "inputs", "changedPropIds")

    def __init__(self, app: ASGIApp, callbacks: Mapping[str, Mapping[str, Any]]) -> None:
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


def _callback_problem(body: bytes, callbacks: Mapping[str, Mapping[str, Any]]) -> str | None:
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return "a callback request must be a JSON object"
    if not isinstance(request, dict):
        return "a callback request must be a JSON object"
    if not is_unicode(request):
        return "a callback request must be text: it holds a lone surrogate"
    missing = [key for key in DashCallbackGuard.REQUIRED if key not in request]
    if missing:
        return f"the callback request lacks `{missing[0]}`"
    if not isinstance(request["inputs"], list) or not isinstance(request["changedPropIds"], list):
        return "`inputs` and `changedPropIds` must be lists"
    if not all(isinstance(changed, str) for changed in request["changedPropIds"]):
        return "`changedPropIds` must list strings"
    if not isinstance(request["output"], str) or request["output"] not in callbacks:
        return "the callback request names no callback of this app"
    callback = callbacks[request["output"]]
    state = request.get("state", [])
    if not isinstance(state, list):
        return "`state` must be a list"
    for name, sent in (("inputs", request["inputs"]), ("state", state)):
        declared = len(callback.get(name) or ())
        if len(sent) != declared or not all(map(_props_or_list, sent)):
            return f"`{name}` must list the callback's {declared} {name} as Dash sends them"
    return None if callback.get("no_output") else _outputs_problem(request["outputs"], callback)


def _outputs_problem(outputs: Any, callback: Mapping[str, Any]) -> str | None:
    """Whether `outputs` is one output's (id, property), or the list of as many as the callback has."""
    indices = callback.get("outputs_indices")
    if isinstance(indices, list):
        if isinstance(outputs, list) and len(outputs) == len(indices) and all(map(_props_or_list, outputs)):
            return None
    elif _props_or_list(outputs):
        return None
    return "`outputs` must name the callback's outputs as Dash sends them"


def _props_or_list(item: Any) -> bool:
    """A component property as Dash sends one (`{"id", "property", ...}`), or a pattern's list of them."""
    return _prop(item) or (isinstance(item, list) and all(map(_prop, item)))


def _prop(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("id"), str | dict)
        and isinstance(item.get("property"), str)
    )
