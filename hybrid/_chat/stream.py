"""`ChatStream`, `POST /api/stream`: a signed chat ticket in, that Chat's answer out as events.

A Chat's signing callback checks the conversation and the Chat's context values and signs both into a
ticket (`issue`); the page posts `{"ticket": ...}` here. The stream verifies it, makes the answer's
`Turn` and lets the Chat answer (`respond`). What streams is exactly what was checked and signed.

The answer's text deltas are plain messages; named events carry the rest: `meta` (the model, once it is
asked), the other parts of the answer (`reasoning`, `set_props`, and a tool round's `tool_call_delta`,
`tool_call` and `tool_result`), and `completion` last (finish reason and token usage) for the footer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Protocol

from starlette.requests import Request

from hybrid._chat.completion import completion_events
from hybrid._chat.models import ChatModels
from hybrid._chat.request import conversation
from hybrid._chat.tickets import TicketSigner
from hybrid._chat.turn import Turn
from hybrid._errors import ApiError
from hybrid._providers.base import Message
from hybrid._streams.endings import close_source
from hybrid._tools.context import ToolContext
from hybrid._tools.threads import SyncThreads
from hybrid._web.identity import user_of
from hybrid._web.json_body import read_json
from hybrid._wire.parts import Part, to_event
from hybrid._wire.sse import Event, StreamEvent

CHAT_STREAM_PATH = "/api/stream"
"""Where an app serves its chat stream, relative to where it is mounted."""
MAX_CONTEXT_CHARS = 100_000


class Answerer(Protocol):
    """A chat the stream answers for (a `hybrid.Chat`)."""

    @property
    def chat_id(self) -> str: ...

    @property
    def context_keys(self) -> Sequence[tuple[str | dict[str, Any], str]]:
        """The (component id, property) each of the chat's context values is of."""
        ...

    def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """The parts of the answer to `turn`."""
        ...

    def plain_props(self, props: dict[str, Any]) -> Any:
        """A `SetProps`' values as plain JSON data."""
        ...


class ChatStream:
    """Signs chat tickets and streams the answers they ask for (a `stream_endpoint` function).

    `answer_threads` run synchronous answer functions, `tool_threads` synchronous tools: pools of the
    app's own.
    """

    def __init__(
        self,
        models: ChatModels,
        *,
        signer: TicketSigner,
        answer_threads: SyncThreads,
        tool_threads: SyncThreads,
        max_context_chars: int = MAX_CONTEXT_CHARS,
    ) -> None:
        self.models = models
        self.signer = signer
        self.answer_threads = answer_threads
        self.tool_threads = tool_threads
        self.max_context_chars = max_context_chars
        self.chats: dict[str, Answerer] = {}
        """The chats this stream answers for, by id (`serve`)."""

    def serve(self, chats: Iterable[Answerer]) -> None:
        """Answer tickets that name one of `chats`; `ValueError` if two have one id."""
        for chat in chats:
            if self.chats.setdefault(chat.chat_id, chat) is not chat:
                raise ValueError(f"two Chats have the id {chat.chat_id!r}")

    def issue(self, chat_id: str, messages: Any, context: Sequence[Any], *, user: str | None = None) -> str:
        """Check a chat's conversation and its context values, and sign them into a ticket for `chat_id`.

        The conversation is checked (`ApiError` 400), the context values' size against
        `max_context_chars` (413): what streams is exactly what was checked here. The ticket is `user`'s
        only, when the app knows its users.
        """
        conversation(messages)
        size = len(json.dumps(list(context), ensure_ascii=False))
        if size > self.max_context_chars:
            raise ApiError(
                413,
                "context_too_large",
                f"the chat's context is {size:,} characters; this server takes at most "
                f"{self.max_context_chars:,}",
            )
        return self.signer.issue({"chat": chat_id, "messages": messages, "context": list(context)}, user=user)

    async def __call__(self, request: Request) -> AsyncIterator[StreamEvent]:
        body = await read_json(request)
        ticket = body.get("ticket") if isinstance(body, dict) else None
        signed = await self.signer.verify(ticket, user=user_of(request.scope))
        chat = self.chats.get(signed.get("chat"))  # only the server signs these: `issue` checked them
        if chat is None:
            raise ApiError(404, "unknown_chat", "this server has no chat of that id")
        messages = [Message(role=m["role"], content=m["content"]) for m in signed["messages"]]
        values = tuple(signed["context"])
        turn = Turn(
            messages,
            values,
            models=self.models,
            threads=self.answer_threads,
            context=ToolContext(values, keys=tuple(chat.context_keys), threads=self.tool_threads),
        )
        return self._answer(chat, turn)

    async def _answer(self, chat: Answerer, turn: Turn) -> AsyncIterator[StreamEvent]:
        """The chat's answer: its parts as events, `meta` once it asks the model, `completion` at the end."""
        turn.enter()  # this task streams this one answer: nothing to restore afterwards
        parts = chat.respond(turn)
        try:
            async for part in parts:
                if turn.model is not None and not turn.announced:
                    turn.announced = True
                    yield Event("meta", {"model": turn.model})
                yield part if type(part) is str else to_event(part, chat.plain_props)
        finally:
            await close_source(parts)
        if turn.completion is not None:
            for event in completion_events(turn.completion):
                yield event
