"""The built-in chat stream, `POST /api/stream`: a conversation in, the model's answer out as SSE.

Request body (JSON)::

    {"messages": [{"role": "user", "content": "Hi"}, ...], "model": "demo", "temperature": 0.7}

The answer's text deltas are plain messages; named events carry what the chat page's footer shows:
`meta` first (the model), `completion` last (finish reason and token usage).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.requests import Request

from hybrid.errors import ApiError
from hybrid.middleware import BodyTooLarge
from hybrid.providers.base import ChatRequest, Message, Provider
from hybrid.streaming import Event, Item, notice

MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 32_000
ROLES = ("user", "assistant")


class ChatStream:
    """Validates chat requests and streams the provider's answers (a `stream_endpoint` function)."""

    def __init__(self, provider: Provider, *, models: Sequence[str] | None = None) -> None:
        self.provider = provider
        self.models = tuple(models or provider.models)

    async def __call__(self, request: Request) -> AsyncIterator[Item]:
        body = await read_json(request)
        return self._answer(self.parse(body))

    def parse(self, body: Any) -> ChatRequest:
        """The `ChatRequest` a JSON body asks for; `ApiError` (400) says what is wrong with it."""
        if not isinstance(body, dict):
            raise _invalid("the body must be a JSON object")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _invalid("`messages` must be a non-empty list")
        if len(messages) > MAX_MESSAGES:
            raise _invalid(f"`messages` holds more than {MAX_MESSAGES} messages")
        parsed = [_message(index, item) for index, item in enumerate(messages)]
        if parsed[-1].role != "user":
            raise _invalid("the last message must come from the user")
        model = body.get("model", self.models[0])
        if model not in self.models:
            raise _invalid(f"`model` must be one of {', '.join(self.models)}")
        temperature = body.get("temperature")
        if temperature is not None and (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not math.isfinite(temperature)
            or not 0 <= temperature <= 2
        ):
            raise _invalid("`temperature` must be a number from 0 to 2")
        return ChatRequest(messages=parsed, model=model, temperature=temperature)

    async def _answer(self, request: ChatRequest) -> AsyncIterator[Item]:
        yield Event("meta", {"model": request.model})
        reply = self.provider.reply(request)
        try:
            async for delta in reply:
                yield delta
        finally:
            await reply.aclose()
        completion = reply.completion
        if completion is None:
            return
        usage = completion.usage
        yield Event(
            "completion",
            {
                "model": completion.model,
                "finish_reason": completion.finish_reason,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
            },
        )
        if completion.finish_reason == "length":
            yield notice("it reached the length limit")


async def read_json(request: Request) -> Any:
    """The request's JSON body, or an `ApiError` naming what is wrong with it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        raw = await request.body()
    except BodyTooLarge:
        raise ApiError(413, "body_too_large", "the request body is too large") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid("the body is not valid UTF-8") from None
    except (ValueError, RecursionError):
        raise _invalid("the body is not valid JSON") from None


def _message(index: int, item: Any) -> Message:
    if not isinstance(item, dict):
        raise _invalid(f"messages[{index}] must be an object")
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise _invalid(f"messages[{index}].role must be one of {', '.join(ROLES)}")
    if not isinstance(content, str) or not content.strip():
        raise _invalid(f"messages[{index}].content must be a non-empty string")
    if len(content) > MAX_MESSAGE_CHARS:
        raise _invalid(f"messages[{index}].content is longer than {MAX_MESSAGE_CHARS} characters")
    return Message(role=role, content=content)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)
