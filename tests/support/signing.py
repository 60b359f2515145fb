"""Signing a ticket the way the page does: the Chat's Dash callback, over real HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

PAGE_STATES = ("model", "preset", "temperature")
"""The built-in page's settings, its Chat's context."""


def sign(
    url: str,
    messages: Any,
    *,
    chat: str = "chat",
    states: Sequence[tuple[str, Any]] = (("model", "demo"), ("preset", None), ("temperature", 0.7)),
    **kwargs: Any,
) -> dict[str, Any]:
    """What `chat`'s signing callback answers to a ticket request for `messages` (its context values from
    `states`, as `(component id, value)` of each `value` property): `{id, ticket, url}` or `{id, error,
    status}`."""
    request = {"id": "t1", "body": {"messages": messages}}
    body = {
        "output": f"{chat}--ticket.data",
        "outputs": {"id": f"{chat}--ticket", "property": "data"},
        "inputs": [{"id": f"{chat}--ticket-request", "property": "data", "value": request}],
        "changedPropIds": [f"{chat}--ticket-request.data"],
        "state": [{"id": id, "property": "value", "value": value} for id, value in states],
    }
    response = httpx.post(url + "/_dash-update-component", json=body, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()["response"][f"{chat}--ticket"]["data"]  # type: ignore[no-any-return]
