"""The built-in chat stream, `POST /api/stream`: a conversation in, the model's answer out as SSE.

Request body (JSON)::

    {"messages": [{"role": "user", "content": "Hi"}, ...], "model": "demo", "temperature": 0.7,
     "preset": "concise"}

The system prompt is the server's: `preset` names one of `PRESETS`. A `system` field (the client's own
system prompt) is refused unless the server allows it (`HYBRID_ALLOW_CLIENT_SYSTEM_PROMPT`).

A ticket may instead name a chat (`{"chat": id, "messages": [...], "context": [...]}`, signed by
`issue_chat` for a `hybrid.Chat`): the stream is then that chat's answer, whose parts (`hybrid.parts`)
travel as named events beside the text.

The answer's text deltas are plain messages; named events carry the rest: `meta` (the model, once it is
asked) and `completion` last (finish reason and token usage) for the chat's footer, and the other parts
of `hybrid.parts`: `reasoning`, `set_props`, and a tool round's `tool_call_delta`, `tool_call` and
`tool_result`.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request

from hybrid import logs
from hybrid.errors import ApiError, StreamError
from hybrid.hooks import StreamHooks
from hybrid.identity import user_of
from hybrid.parts import Part, to_item
from hybrid.providers.base import ChatRequest, Completion, Message, Provider, Usage
from hybrid.sse import Event
from hybrid.streaming import Item, notice
from hybrid.tickets import TicketSigner
from hybrid.tool_threads import ToolThreads
from hybrid.tools import MAX_ROUNDS, Toolbox, ToolContext, answer_with_tools

CHAT_STREAM_PATH = "/api/stream"
"""Where an app serves its chat stream, relative to where it is mounted."""
MAX_MESSAGES = 200
MAX_MESSAGE_CHARS = 32_000
MAX_TOTAL_CHARS = 200_000
MAX_JSON_DEPTH = 8
MAX_CONTEXT_CHARS = 100_000
ROLES = ("user", "assistant")
STOP_REASONS = {
    "length": "it reached the length limit",
    "content_filter": "the provider's content filter withheld the rest",
}
"""Finish reasons that cut an answer short, and how the user is told."""
FIELDS = frozenset({"messages", "model", "temperature", "preset", "system"})


@dataclass(frozen=True, slots=True)
class Preset:
    """A system prompt the server offers under a name; the chat page shows `label`."""

    label: str
    prompt: str


PRESETS: dict[str, Preset] = {
    "default": Preset("Default", ""),
    "concise": Preset("Concise", "Answer as briefly as the question allows. Prefer lists over prose."),
    "teacher": Preset(
        "Patient teacher",
        "Explain step by step for a curious beginner, define terms as you use them, and end with one "
        "question that checks understanding.",
    ),
    "engineer": Preset(
        "Senior engineer",
        "You are a senior software engineer. Give working code in fenced blocks, name trade-offs, and "
        "say when you are unsure.",
    ),
}


class ChatAnswer(Protocol):
    """A chat the stream can answer for (a `hybrid.Chat`): its parts for a checked conversation."""

    @property
    def chat_id(self) -> str: ...

    @property
    def context_keys(self) -> Sequence[tuple[str | dict[str, Any], str]]:
        """The (component id, property) each of the chat's context values is of."""
        ...

    def parts(self, messages: Sequence[Message], context: Sequence[Any]) -> AsyncIterator[Part]:
        """The answer to `messages`, with the chat's `context` values as the ticket holds them."""
        ...

    def plain_props(self, props: dict[str, Any]) -> Any:
        """A `SetProps`' values as plain JSON data."""
        ...


@dataclass(slots=True)
class _Turn:
    """One chat answer streaming: its context (for its tools, following their changes across the
    answer's model calls), and what the provider reported (the model asked, and the completion)."""

    context: ToolContext
    model: str | None = None
    announced: bool = False
    completion: Completion | None = None

    def completed(self, completion: Completion) -> None:
        """Record `completion`; an answer that asked the model more than once (rounds of tool calls, or
        several `chat.model` calls) reports the tokens of all that reported theirs."""
        earlier = self.completion.usage if self.completion is not None else None
        usage = completion.usage
        if earlier is not None and usage is not None:
            usage = Usage(
                earlier.prompt_tokens + usage.prompt_tokens,
                earlier.completion_tokens + usage.completion_tokens,
            )
        self.completion = Completion(completion.model, completion.finish_reason, usage or earlier)


_turn: ContextVar[_Turn | None] = ContextVar("hybrid_chat_turn", default=None)
"""The chat answer streaming in this task, for `model_parts` to report to."""


class ChatStream:
    """Validates chat requests and streams the provider's answers (a `stream_endpoint` function)."""

    def __init__(
        self,
        provider: Provider,
        *,
        models: Sequence[str] | None = None,
        presets: Mapping[str, Preset] = PRESETS,
        allow_system_prompt: bool = False,
        max_tokens: int | None = None,
        signer: TicketSigner | None = None,
        hooks: StreamHooks | None = None,
        max_context_chars: int = MAX_CONTEXT_CHARS,
        tool_threads: ToolThreads | None = None,
    ) -> None:
        self.provider = provider
        self.models = tuple(models or provider.models)
        self.presets = presets
        self.allow_system_prompt = allow_system_prompt
        self.max_tokens = max_tokens
        self.signer = signer
        self.hooks = hooks or StreamHooks()
        """Told of the `Completion` of each answer that streamed to its end (metrics)."""
        self.max_context_chars = max_context_chars
        self.tool_threads = tool_threads
        """The threads the sync tools of its chats run on (None: a default pool)."""
        self.chats: dict[str, ChatAnswer] = {}
        """The chats this stream answers for, by id (`serve`)."""

    def serve(self, chats: Iterable[ChatAnswer]) -> None:
        """Answer tickets that name one of `chats`; `ValueError` if two have one id."""
        for chat in chats:
            if self.chats.setdefault(chat.chat_id, chat) is not chat:
                raise ValueError(f"two Chats have the id {chat.chat_id!r}")

    async def __call__(self, request: Request) -> AsyncIterator[Item]:
        body = await read_json(request)
        if self.signer is not None:
            ticket = body.get("ticket") if isinstance(body, dict) else None
            body = await self.signer.verify(ticket, user=user_of(request.scope))
            if "chat" in body:  # only the server signs these: `issue_chat` checked them
                chat = self.chats.get(body["chat"])
                if chat is None:
                    raise ApiError(404, "unknown_chat", "this server has no chat of that id")
                messages = [Message(role=m["role"], content=m["content"]) for m in body["messages"]]
                return self._chat_answer(chat, messages, body["context"])
        return self._answer(self.parse(body))

    def issue_chat(
        self, chat_id: str, messages: Any, context: Sequence[Any], *, user: str | None = None
    ) -> str:
        """Check a chat's conversation and its context values, and sign them into a ticket for `chat_id`.

        The conversation is checked as `parse` checks a request's (`ApiError` 400), the context values'
        size against `max_context_chars` (413): what streams is exactly what was checked here.
        """
        if self.signer is None:
            raise RuntimeError("this ChatStream has no TicketSigner")
        self.parse({"messages": messages})
        size = len(json.dumps(list(context), ensure_ascii=False))
        if size > self.max_context_chars:
            raise ApiError(
                413,
                "context_too_large",
                f"the chat's context is {size:,} characters; this server takes at most "
                f"{self.max_context_chars:,}",
            )
        return self.signer.issue({"chat": chat_id, "messages": messages, "context": list(context)}, user=user)

    def issue(self, body: Any, *, user: str | None = None) -> str:
        """Validate a request for the provider and sign it into a ticket for `POST /api/stream`
        (`{"ticket": ...}`), for a page or client of the host's own (a `hybrid.Chat` signs through
        `issue_chat`).

        Call it where the request is checked (a Dash callback, a route behind the host's auth), so what
        streams is what the server checked: its models, its system prompts, its token limit. The ticket
        is `user`'s only, when the app knows its users. `ApiError` (400) says what is wrong.
        """
        if self.signer is None:
            raise RuntimeError("this ChatStream has no TicketSigner")
        self.parse(body)
        return self.signer.issue(body, user=user)

    def parse(self, body: Any, *, roles: Sequence[str] = ROLES) -> ChatRequest:
        """The `ChatRequest` a JSON body asks for; `ApiError` (400) says what is wrong with it.

        `roles` are the roles its messages may have (a page may not send `system` messages).
        """
        if not isinstance(body, dict):
            raise _invalid("the body must be a JSON object")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise _invalid(f"unknown field `{unknown[0]}`; a request may hold {', '.join(sorted(FIELDS))}")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _invalid("`messages` must be a non-empty list")
        if len(messages) > MAX_MESSAGES:
            raise _invalid(f"`messages` holds more than {MAX_MESSAGES} messages")
        parsed = [_message(index, item, roles) for index, item in enumerate(messages)]
        if sum(len(message.content) for message in parsed) > MAX_TOTAL_CHARS:
            raise _invalid(f"the conversation is longer than {MAX_TOTAL_CHARS} characters; start a new chat")
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
        return ChatRequest(
            messages=[*self._system(body), *parsed],
            model=model,
            temperature=temperature,
            max_tokens=self.max_tokens,
            request_id=logs.request_id.get(),
        )

    def _system(self, body: dict[str, Any]) -> list[Message]:
        """The system message the body asks for: its own (when allowed), else a preset's, else none."""
        system = body.get("system")
        if system is not None:
            if not self.allow_system_prompt:
                raise _invalid("this server does not accept a system prompt from the client; use `preset`")
            if not isinstance(system, str) or len(system) > MAX_MESSAGE_CHARS:
                raise _invalid(f"`system` must be a string of at most {MAX_MESSAGE_CHARS} characters")
            return [Message(role="system", content=system)] if system.strip() else []
        name = body.get("preset")
        if name is None:
            return []
        preset = self.presets.get(name) if isinstance(name, str) else None
        if preset is None:
            raise _invalid(f"`preset` must be one of {', '.join(self.presets)}")
        return [Message(role="system", content=preset.prompt)] if preset.prompt else []

    def model_parts(
        self,
        messages: Iterable[Message | Mapping[str, str]],
        *,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        tools: Toolbox | None = None,
        max_tool_rounds: int = MAX_ROUNDS,
    ) -> AsyncIterator[Part]:
        """The provider's answer to `messages` (with `system` first), for a chat's answer function.

        `model` must be one of the server's models (by default its first) and `temperature` from 0 to 2,
        else `StreamError`. With `tools`, it is the tool loop (`answer_with_tools`, at most
        `max_tool_rounds` rounds), the tools seeing the context of the chat answer streaming in this task.
        Each completion goes to that answer (its footer) and to the metrics.
        """
        body: dict[str, Any] = {
            "messages": [_plain_message(message) for message in messages],
            "model": model or self.models[0],
            "temperature": temperature,
        }
        try:
            request = self.parse(body, roles=("system", *ROLES))
        except ApiError as exc:
            raise StreamError(exc.message, type="invalid_request") from None
        if system:
            request = ChatRequest(
                messages=[Message(role="system", content=system), *request.messages],
                model=request.model,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                request_id=request.request_id,
            )
        return self._model_parts(request, tools, max_tool_rounds)

    async def _model_parts(
        self, request: ChatRequest, tools: Toolbox | None, max_tool_rounds: int
    ) -> AsyncIterator[Part]:
        turn = _turn.get()
        if turn is not None:
            turn.model = request.model

        def completed(completion: Completion) -> None:
            self.hooks.completed(completion)
            if turn is not None:
                turn.completed(completion)

        if tools:
            context = turn.context if turn is not None else ToolContext(threads=self.tool_threads)
            parts = answer_with_tools(
                self.provider, request, tools, context, max_rounds=max_tool_rounds, on_completion=completed
            )
            async with contextlib.aclosing(parts):
                async for part in parts:
                    yield part
            return
        async with contextlib.aclosing(self.provider.reply(request)) as reply:
            async for delta in reply:
                yield delta
        if reply.completion is not None:
            completed(reply.completion)

    async def _answer(self, request: ChatRequest) -> AsyncIterator[Item]:
        yield Event("meta", {"model": request.model})
        reply = self.provider.reply(request)
        try:
            async for delta in reply:
                yield delta if type(delta) is str else to_item(delta)
        finally:
            await reply.aclose()
        completion = reply.completion
        if completion is None:
            return
        self.hooks.completed(completion)
        for item in _completion_items(completion):
            yield item

    async def _chat_answer(
        self, chat: ChatAnswer, messages: list[Message], context: list[Any]
    ) -> AsyncIterator[Item]:
        """A chat's answer: its parts as items, `meta` once it asks the model, `completion` at the end."""
        turn = _Turn(ToolContext(tuple(context), keys=tuple(chat.context_keys), threads=self.tool_threads))
        _turn.set(turn)  # this task streams this one answer: nothing to restore afterwards
        parts = chat.parts(messages, context)
        try:
            async for part in parts:
                if turn.model is not None and not turn.announced:
                    turn.announced = True
                    yield Event("meta", {"model": turn.model})
                yield part if type(part) is str else to_item(part, chat.plain_props)
        finally:
            aclose = getattr(parts, "aclose", None)
            if aclose is not None:
                await aclose()
        if turn.completion is not None:
            for item in _completion_items(turn.completion):
                yield item


def _completion_items(completion: Completion) -> list[Item]:
    """How an answer's end is told: the `completion` event, and a notice if it was cut short."""
    usage = completion.usage
    items: list[Item] = [
        Event(
            "completion",
            {
                "model": completion.model,
                "finish_reason": completion.finish_reason,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
            },
        )
    ]
    reason = STOP_REASONS.get(completion.finish_reason or "")
    if reason:
        items.append(notice(reason))
    return items


def _plain_message(message: Message | Mapping[str, str]) -> dict[str, Any]:
    if isinstance(message, Message):
        return {"role": message.role, "content": message.content}
    return dict(message)


async def read_json(request: Request) -> Any:
    """The request's JSON body, or an `ApiError` naming what is wrong with it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.body()  # past the body limit: `BodyTooLarge`, a 413
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid("the body is not valid UTF-8") from None
    except RecursionError:
        raise _invalid(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise _invalid("the body is not valid JSON") from None
    if _depth(body) > MAX_JSON_DEPTH:
        raise _invalid(f"the body is nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects, without recursion."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                children = item.values() if isinstance(item, dict) else item
                level.extend((child, depth + 1) for child in children)
    return deepest


def _message(index: int, item: Any, roles: Sequence[str]) -> Message:
    if not isinstance(item, dict):
        raise _invalid(f"messages[{index}] must be an object")
    unknown = sorted(set(item) - {"role", "content"})
    if unknown:
        raise _invalid(f"messages[{index}] has an unknown field `{unknown[0]}`")
    role, content = item.get("role"), item.get("content")
    if role not in roles:
        raise _invalid(f"messages[{index}].role must be one of {', '.join(roles)}")
    if not isinstance(content, str) or not content.strip():
        raise _invalid(f"messages[{index}].content must be a non-empty string")
    if len(content) > MAX_MESSAGE_CHARS:
        raise _invalid(f"messages[{index}].content is longer than {MAX_MESSAGE_CHARS} characters")
    return Message(role=role, content=content)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)
