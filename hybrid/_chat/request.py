"""What a chat answer may be asked: a conversation checked against the server's limits, and the
`ChatRequest` the provider gets for it (the server's model, temperature range and token limit)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hybrid._errors import ApiError
from hybrid._providers.base import ChatRequest, Message
from hybrid._web.json_body import is_unicode
from hybrid._web.request_id import request_id

MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 32_000
MAX_TOTAL_CHARS = 200_000
ROLES = ("user", "assistant")
"""The roles of the messages a page may send (never `system`: the server's to choose)."""


def conversation(messages: Any, *, roles: Sequence[str] = ROLES) -> list[Message]:
    """`messages` (JSON data) as a checked conversation ending with the user; `ApiError` (400) says
    what is wrong. `roles` are the roles its messages may have."""
    if not isinstance(messages, list) or not messages:
        raise invalid("`messages` must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise invalid(f"`messages` holds more than {MAX_MESSAGES} messages")
    parsed = [_message(index, item, roles) for index, item in enumerate(messages)]
    if sum(len(message.content) for message in parsed) > MAX_TOTAL_CHARS:
        raise invalid(f"the conversation is longer than {MAX_TOTAL_CHARS} characters; start a new chat")
    if parsed[-1].role != "user":
        raise invalid("the last message must come from the user")
    return parsed


def chat_request(
    messages: Iterable[Message | Mapping[str, str]],
    *,
    models: Sequence[str],
    model: str | None = None,
    temperature: float | None = None,
    system: str | None = None,
    max_tokens: int | None = None,
) -> ChatRequest:
    """The `ChatRequest` for an answer function's call of the model; `ApiError` (400) says what is wrong.

    `model` must be one of `models` (by default the first), `temperature` from 0 to 2; `system`, when
    given, comes first.
    """
    checked = conversation([_plain(message) for message in messages], roles=("system", *ROLES))
    model = model or models[0]
    if model not in models:
        raise invalid(f"`model` must be one of {', '.join(models)}")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or not 0 <= temperature <= 2
    ):
        raise invalid("`temperature` must be a number from 0 to 2")
    if system:
        checked.insert(0, Message(role="system", content=system))
    return ChatRequest(
        messages=checked,
        model=model,
        temperature=temperature,
        max_tokens=max_tokens,
        request_id=request_id.get(),
    )


def _plain(message: Message | Mapping[str, str]) -> Any:
    if isinstance(message, Message):
        return {"role": message.role, "content": message.content}
    return dict(message) if isinstance(message, Mapping) else message


def _message(index: int, item: Any, roles: Sequence[str]) -> Message:
    if not isinstance(item, dict):
        raise invalid(f"messages[{index}] must be an object")
    unknown = sorted(set(item) - {"role", "content"})
    if unknown:
        raise invalid(f"messages[{index}] has an unknown field `{unknown[0]}`")
    role, content = item.get("role"), item.get("content")
    if role not in roles:
        raise invalid(f"messages[{index}].role must be one of {', '.join(roles)}")
    if not isinstance(content, str) or not content.strip():
        raise invalid(f"messages[{index}].content must be a non-empty string")
    if len(content) > MAX_MESSAGE_CHARS:
        raise invalid(f"messages[{index}].content is longer than {MAX_MESSAGE_CHARS} characters")
    if not is_unicode(content):
        raise invalid(f"messages[{index}].content holds a lone surrogate: it is not text")
    return Message(role=role, content=content)


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)
