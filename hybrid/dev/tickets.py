"""The body the built-in page's Chat posts to `/api/stream`, signed with the server's key, for tests and
benchmarks that stream without a browser."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hybrid._chat.stream import app_at
from hybrid._chat.tickets import TicketSigner

PAGE_CHAT = "chat"
"""The id of the built-in page's Chat, whose context is the page's settings: model, style, temperature."""


def chat_ticket(
    messages: list[dict[str, Any]],
    secret_key: str,
    *,
    model: str = "demo",
    chat: str = PAGE_CHAT,
    context: Sequence[Any] | None = None,
    user: str | None = None,
    mount: str = "",
) -> dict[str, str]:
    """`{"ticket": ...}` for `messages`, as the Chat `chat`'s signing callback would sign it with
    `secret_key`: by default the built-in page's Chat asked with `model` and its default style and
    temperature; `context` gives another Chat's context values. `mount` is where the app is mounted
    (a ticket is good for that app only)."""
    values = list(context) if context is not None else [model, None, None]
    payload = {"chat": chat, "messages": messages, "context": values}
    return {"ticket": TicketSigner(secret_key).issue(payload, user=user, app=app_at(mount))}
