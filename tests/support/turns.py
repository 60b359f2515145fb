"""Answers of a Chat run in process, as the chat stream runs them, for tests without a server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from hybrid import Message, Provider
from hybrid._chat.models import ChatModels
from hybrid._chat.stream import Answerer, ChatStream
from hybrid._chat.tickets import TicketSigner
from hybrid._chat.turn import Turn
from hybrid._providers.demo.model import DemoProvider
from hybrid._tools.context import ToolContext
from hybrid._tools.threads import SyncThreads
from hybrid._wire.sse import StreamEvent


def chat_stream(
    provider: Provider | None = None, *, max_context_chars: int = 100, threads: int = 2, **models: Any
) -> ChatStream:
    """A chat stream with its own threads and `TicketSigner("k")`, answering with `provider` (the demo
    model at full speed by default)."""
    return ChatStream(
        ChatModels(provider or DemoProvider(ttft=0, token_delay=0), **models),
        signer=TicketSigner("k"),
        answer_threads=SyncThreads(threads, purpose="answer"),
        tool_threads=SyncThreads(threads, purpose="tool"),
        max_context_chars=max_context_chars,
    )


def turn_of(stream: ChatStream, chat: Answerer, messages: list[Message], context: Sequence[Any] = ()) -> Turn:
    values = tuple(context)
    return Turn(
        messages,
        values,
        models=stream.models,
        threads=stream.answer_threads,
        context=ToolContext(values, keys=tuple(chat.context_keys), threads=stream.tool_threads),
    )


def answer_events(
    stream: ChatStream, chat: Answerer, messages: list[Message], context: Sequence[Any] = ()
) -> AsyncIterator[StreamEvent]:
    """The events `stream` sends for `chat`'s answer, as after a verified ticket."""
    return stream._answer(chat, turn_of(stream, chat, messages, context))
