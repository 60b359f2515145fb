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
    body = ticket_request(messages, chat=chat, states=states)
    response = httpx.post(url + "/_dash-update-component", json=body, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()["response"][f"{chat}--ticket"]["data"]  # type: ignore[no-any-return]


def ticket_request(
    messages: Any, *, chat: str = "chat", states: Sequence[tuple[str, Any]] = ()
) -> dict[str, Any]:
    """The Dash callback request the page sends to `chat`'s signing callback for `messages`, with the
    context values of `states` (`(component id, value)` of each `value` property)."""
    request = {"id": "t1", "body": {"messages": messages}}
    body: dict[str, Any] = {
        "output": f"{chat}--ticket.data",
        "outputs": {"id": f"{chat}--ticket", "property": "data"},
        "inputs": [{"id": f"{chat}--ticket-request", "property": "data", "value": request}],
        "changedPropIds": [f"{chat}--ticket-request.data"],
    }
    if states:
        body["state"] = [{"id": id, "property": "value", "value": value} for id, value in states]
    return body
