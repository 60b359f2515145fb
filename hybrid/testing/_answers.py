"""`ask`: a Chat's answer run in process, as hybrid's server runs it, for tests without a server or a browser.

The server answers a Chat in a `Turn`: the conversation and the context values as the signed ticket holds
them (JSON data), the server's model (`chat.model` asks it), the app's thread pools for synchronous answer
functions and tools. `ask` makes the same turn with the demo model at full speed (or the provider given),
runs the Chat's answer in a task of its own, checks each part as the stream would encode it, and hands
back everything the answer yielded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hybrid._chat.models import ChatModels
from hybrid._chat.request import conversation
from hybrid._chat.turn import Turn
from hybrid._dash.chat.component import Chat
from hybrid._errors import ApiError
from hybrid._providers.base import Completion, Message, Provider
from hybrid._providers.select import provider_from_settings
from hybrid._settings import Settings
from hybrid._tools.context import ToolContext
from hybrid._tools.threads import SyncThreads
from hybrid._wire.parts import Part, Reasoning, to_event

T = TypeVar("T")

Question = str | Sequence[Message | Mapping[str, str]]
"""The user's question, or a whole conversation (`hybrid.Message`s or `{"role", "content"}` mappings of
the roles `user` and `assistant`, newest last, ending with the user's)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a Chat's answer yielded, in order, and what its model reported."""

    parts: tuple[Part, ...]
    """Every part: text (`str`), `hybrid.Reasoning`, `hybrid.SetProps`, and the tool loop's
    `hybrid.ToolCallDelta`, `hybrid.ToolCall` and `hybrid.ToolResult`."""
    model: str | None
    """The model `chat.model` asked last; None if the answer never asked one."""
    completion: Completion | None
    """How the model's answer ended (finish reason, token usage summed over its calls), or None."""

    @property
    def text(self) -> str:
        """The answer's text, as the Chat shows it (its text parts joined)."""
        return "".join(part for part in self.parts if isinstance(part, str))

    @property
    def reasoning(self) -> str:
        """The thinking the answer showed (its `hybrid.Reasoning` parts joined)."""
        return "".join(part.text for part in self.parts if isinstance(part, Reasoning))

    def of(self, kind: type[T]) -> list[T]:
        """The parts of one kind, e.g. `answer.of(hybrid.SetProps)` or `answer.of(hybrid.ToolCall)`."""
        return [part for part in self.parts if isinstance(part, kind)]


def ask(
    chat: Chat, question: Question, *, context: Sequence[Any] = (), provider: Provider | None = None
) -> Answer:
    """Run `chat`'s answer to `question` as hybrid's server would, and return all it yielded.

    `context` holds one value per `State` of the Chat's `context`, as the page would send them (JSON
    data). The answer function runs as it does in the app (a synchronous one on a worker thread), and
    `chat.model(...)` inside it asks `provider`: by default the demo model at full speed, which answers
    the same text every time and calls the Chat's tools whose names the question says. A Chat without an
    answer function answers from the provider. An exception of the answer (`hybrid.StreamError` too)
    reaches the caller.

    It runs an event loop of its own; in an async test, `await ask_async(...)` instead. Where this thread
    runs a loop already (Playwright's sync API keeps one), the answer's loop runs on a thread of its own.
    """
    asked = ask_async(chat, question, context=context, provider=provider)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(asked)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asked).result()


async def ask_async(
    chat: Chat, question: Question, *, context: Sequence[Any] = (), provider: Provider | None = None
) -> Answer:
    """`ask`, for async tests."""
    if not isinstance(chat, Chat):
        raise TypeError(f"ask() answers a hybrid.Chat, not {type(chat).__name__}")
    values = _context_values(chat, context)
    turn = Turn(
        _messages(question),
        values,
        models=ChatModels(provider or _demo_provider()),
        threads=_answer_threads(),
        context=ToolContext(values, keys=tuple(chat.context_keys), check=chat.page_props),  # default threads
    )
    # A task of its own, as the server streams each answer: the turn is current in its context only.
    return await asyncio.create_task(_answer(chat, turn))


async def _answer(chat: Chat, turn: Turn) -> Answer:
    turn.enter()
    parts: list[Part] = []
    async with contextlib.aclosing(chat.respond(turn)) as answer:  # type: ignore[type-var]
        async for part in answer:
            to_event(part, chat.page_props)  # what the stream writes: a part it cannot send fails here
            parts.append(part)
    return Answer(tuple(parts), turn.model, turn.completion)


def _messages(question: Question) -> list[Message]:
    """The conversation, checked as the server checks the page's (`ValueError` says what is wrong)."""
    if isinstance(question, str):
        question = [{"role": "user", "content": question}]
    plain = [
        {"role": item.role, "content": item.content} if isinstance(item, Message) else dict(item)
        for item in question
    ]
    try:
        return conversation(plain)
    except ApiError as exc:
        raise ValueError(exc.message) from None


def _context_values(chat: Chat, context: Sequence[Any]) -> tuple[Any, ...]:
    """The context values as the answer gets them: one per State of the Chat, through JSON as the ticket
    carries them (a tuple arrives as a list)."""
    if isinstance(context, str | bytes) or not isinstance(context, Sequence):
        raise TypeError(f"context is a list of values, one per State of the Chat, not {context!r}")
    states = [f"{state.component_id}.{state.component_property}" for state in chat.context]
    if len(context) != len(states):
        raise ValueError(
            f"the Chat {chat.chat_id!r} has {len(states)} context value(s) ({', '.join(states) or 'none'}); "
            f"ask() was given {len(context)}"
        )
    try:
        return tuple(json.loads(json.dumps(list(context))))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the context values must be JSON data, as the page sends them: {exc}") from None


@functools.cache
def _answer_threads() -> SyncThreads:
    """The threads synchronous answer functions run on, as many as an app has by default."""
    return SyncThreads(Settings().answer_threads, purpose="answer")


def _demo_provider() -> Provider:
    """The demo model with no delays: the same answer every time, at once."""
    return provider_from_settings(Settings(provider="demo", demo_ttft_ms=0, demo_token_ms=0))
