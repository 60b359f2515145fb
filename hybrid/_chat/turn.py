"""`Turn`: one chat answer as it streams, handed to the Chat that answers it.

The chat stream makes a turn for each answer and passes it to the Chat (`respond(turn)`): the
conversation, the context values, the threads a synchronous answer function runs on, and the model
(`turn.ask`). The turn follows what the answer did: which model it asked (the `meta` event), what the
model reported (the footer), and, for its tools, the context values as the tools of earlier rounds left
them.

`chat.model(...)` is called from inside the developer's answer function, which is given the conversation
and the context values only; it finds its turn with `current_turn()`, which the chat stream sets in
the context of the task that runs the answer (and so of the tasks that answer starts), as
`dash.callback_context` finds its callback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from hybrid._chat.models import ChatModels
from hybrid._providers.base import Completion, Message, Usage
from hybrid._tools.context import ToolContext
from hybrid._tools.loop import MAX_ROUNDS
from hybrid._tools.threads import SyncThreads
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.parts import Part


class Turn:
    """One chat answer: what it was asked, what it may use, and what the model reported to it."""

    __slots__ = ("announced", "completion", "context", "messages", "model", "models", "threads", "values")

    def __init__(
        self,
        messages: list[Message],
        values: tuple[Any, ...],
        *,
        models: ChatModels,
        threads: SyncThreads,
        context: ToolContext,
    ) -> None:
        self.messages = messages
        """The conversation so far, newest last."""
        self.values = values
        """The Chat's context values as the user sent them."""
        self.models = models
        self.threads = threads
        """The threads a synchronous answer function runs on."""
        self.context = context
        """What the answer's tools see: the context values, followed across its rounds of tool calls."""
        self.model: str | None = None
        """The model the answer asked last (none yet: it has not asked)."""
        self.announced = False
        """Whether the `meta` event that names the model was sent."""
        self.completion: Completion | None = None
        """What the model reported, summed over every call of the answer."""

    def ask(
        self,
        messages: Iterable[Message | Mapping[str, str]],
        *,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        tools: Toolbox | None = None,
        max_tool_rounds: int = MAX_ROUNDS,
    ) -> AsyncIterator[Part]:
        """The server's model's answer to `messages` for this turn (see `ChatModels`)."""
        request = self.models.request(messages, system=system, model=model, temperature=temperature)
        self.model = request.model
        return self.models.parts(
            request,
            tools=tools,
            context=self.context,
            max_tool_rounds=max_tool_rounds,
            on_completion=self.completed,
        )

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

    def enter(self) -> None:
        """Make this the current turn of the running task (and of the tasks it starts from now on)."""
        _current.set(self)


_current: ContextVar[Turn | None] = ContextVar("hybrid_turn", default=None)


def current_turn() -> Turn | None:
    """The turn whose answer the running code is part of, if any."""
    return _current.get()
