"""`ChatStream`, `POST /api/stream`: a signed chat ticket in, that Chat's answer out as events.

A Chat's signing callback checks the conversation and the Chat's context values and signs both into a
ticket (`issue`), for the Chat and the app (its mount path) that signed it; the page posts
`{"ticket": ...}` here. The stream verifies it, makes the answer's `Turn` and lets the Chat answer
(`respond`). What streams is exactly what was checked and signed: values the client sent, signed so that
they cannot change on the way, but not trusted (the answer function validates them as a callback would).

The answer's text deltas are plain messages; named events carry the rest: `meta` (the model, once it is
asked), the other parts of the answer (`reasoning`, `set_props`, and a tool round's `tool_call_delta`,
`tool_call` and `tool_result`), and `completion` last (finish reason and token usage) for the footer.
"""

from __future__ import annotations

import json
import threading
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
from hybrid._streams.limits import ClientLimiter
from hybrid._tools.context import ToolContext
from hybrid._tools.threads import SyncThreads
from hybrid._web.identity import user_of
from hybrid._web.json_body import is_unicode, read_json
from hybrid._wire.parts import Part, to_event
from hybrid._wire.sse import Event, StreamEvent

CHAT_STREAM_PATH = "/api/stream"
"""Where an app serves its chat stream, relative to where it is mounted."""
MAX_CONTEXT_CHARS = 100_000


def app_at(mount: str) -> str:
    """What a ticket names its app by: the path it is mounted at, as the request saw it (`""`: the root)."""
    return mount.rstrip("/")


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

    def page_props(self, props: dict[str, Any]) -> Any:
        """A `SetProps`' values as plain JSON data; a `StreamError` naming a prop that would put HTML or
        script into the page (unless the chat allows it)."""
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
        ticket_limits: ClientLimiter | None = None,
    ) -> None:
        self.models = models
        self.signer = signer
        self.answer_threads = answer_threads
        self.tool_threads = tool_threads
        self.max_context_chars = max_context_chars
        self.ticket_limits = ticket_limits
        """How many tickets a client may have signed (`HYBRID_CLIENT_TICKETS_PER_MINUTE`); None: no limit."""
        self._ticket_lock = threading.Lock()  # tickets are signed on Dash's threads
        self.chats: dict[str, Answerer] = {}
        """The chats this stream answers for, by id (`serve`)."""

    def serve(self, chats: Iterable[Answerer]) -> None:
        """Answer tickets that name one of `chats`; `ValueError` if two have one id."""
        for chat in chats:
            if self.chats.setdefault(chat.chat_id, chat) is not chat:
                raise ValueError(f"two Chats have the id {chat.chat_id!r}")

    def issue(
        self,
        chat_id: str,
        messages: Any,
        context: Sequence[Any],
        *,
        user: str | None = None,
        mount: str = "",
        client: str = "",
    ) -> str:
        """Check a chat's conversation and its context values, and sign them into a ticket for `chat_id`
        of the app at `mount` (the mount path, as the signing request saw it).

        The client (`client`, as `client_of` names it) is counted against `ticket_limits` (429), the
        conversation is checked (`ApiError` 400), the context values' size against `max_context_chars`
        (413). The ticket is `user`'s only, when the app knows its users, and this app's only.
        """
        if self.ticket_limits is not None:
            with self._ticket_lock:
                self.ticket_limits.admit(client)()  # a rate only: nothing stays open
        conversation(messages)
        if not is_unicode(list(context)):
            raise ApiError(400, "invalid_request", "the chat's context holds a lone surrogate (not text)")
        size = len(json.dumps(list(context), ensure_ascii=False))
        if size > self.max_context_chars:
            raise ApiError(
                413,
                "context_too_large",
                f"the chat's context is {size:,} characters; this server takes at most "
                f"{self.max_context_chars:,}",
            )
        payload = {"chat": chat_id, "messages": messages, "context": list(context)}
        return self.signer.issue(payload, user=user, app=app_at(mount))

    async def __call__(self, request: Request) -> AsyncIterator[StreamEvent]:
        body = await read_json(request)
        ticket = body.get("ticket") if isinstance(body, dict) else None
        signed = await self.signer.verify(
            ticket, user=user_of(request.scope), app=app_at(request.scope.get("root_path", ""))
        )
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
            context=ToolContext(
                values, keys=tuple(chat.context_keys), threads=self.tool_threads, check=chat.page_props
            ),
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
                yield part if type(part) is str else to_event(part, chat.page_props)
        finally:
            await close_source(parts)
        if turn.completion is not None:
            for event in completion_events(turn.completion):
                yield event
