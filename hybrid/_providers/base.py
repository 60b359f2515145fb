"""The provider interface: a chat request in, an async iterator of deltas and a final record out.

A reply streams text, `Reasoning` from reasoning models, and `ToolCallDelta`s. A round with tools: the
request offers them (`ChatRequest.tools`), and the reply's `Completion` holds the assembled `ToolCall`s;
the calls' results go back as `tool` messages in the next request (`hybrid._tools.loop.answer_with_tools`
runs that loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from hybrid._errors import HybridError
from hybrid._wire.parts import Reasoning, ToolCall, ToolCallDelta

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation; the last two fields are for tool rounds only."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    """An assistant message's calls (its `content` is then often empty)."""
    tool_call_id: str | None = None
    """A `tool` message's call, whose result its `content` is."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What the server asks a model for. The server, not the browser, decides every field."""

    messages: Sequence[Message]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    request_id: str | None = None
    """Sent upstream as `X-Request-ID`, so the provider's logs can be matched with hybrid's."""
    tools: Sequence[dict[str, Any]] = ()
    """The tools the model may call, as OpenAI's API describes them (`Toolbox.specs()` of
    `hybrid._tools.toolbox`)."""


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    """How an answer ended: the provider's finish reason and, when it reports it, token usage.

    A round that called tools ends with `finish_reason == "tool_calls"` and the calls, assembled.
    """

    model: str
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCall, ...] = ()


Delta = str | Reasoning | ToolCallDelta
"""What a reply streams: text, a reasoning model's thinking, and the pieces of tool calls."""


class Reply:
    """The deltas of one answer; `completion` is set once they end.

    Providers write an async generator that yields deltas (`str` text, `Reasoning`, `ToolCallDelta`)
    and, last, one `Completion`; `Reply` hands the deltas to `async for` and keeps the record.
    """

    __slots__ = ("_items", "completion")

    def __init__(self, items: AsyncIterator[Delta | Completion]) -> None:
        self._items = items
        self.completion: Completion | None = None

    def __aiter__(self) -> Reply:
        return self

    async def __anext__(self) -> Delta:
        item = await self._items.__anext__()
        if type(item) is str:
            return item
        if type(item) is Completion:
            self.completion = item
            raise StopAsyncIteration
        assert isinstance(item, Reasoning | ToolCallDelta), (
            f"providers yield deltas or a Completion, not {item!r}"
        )
        return item

    async def aclose(self) -> None:
        """Stop the answer early; the provider closes its upstream request."""
        aclose = getattr(self._items, "aclose", None)
        if aclose is not None:
            await aclose()


class Provider(Protocol):
    """A source of chat answers."""

    name: str
    models: Sequence[str]

    def reply(self, request: ChatRequest) -> Reply:
        """Start answering `request`."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


FailureReport = Callable[[str, int | None, str], None]
"""Told of each failed attempt to reach a provider: its name, the HTTP status (None without one), the
error type."""


@runtime_checkable
class Pingable(Protocol):
    """A provider that can check cheaply that it can answer (`/readyz` asks)."""

    async def ping(self, timeout: float) -> None:
        """Raise unless the provider answers within `timeout` seconds."""
        ...


@runtime_checkable
class ReportsFailures(Protocol):
    """A provider that reaches an upstream server, and reports every failed attempt (metrics count them)."""

    def report_failures(self, report: FailureReport) -> None:
        """Call `report` for each failed attempt from now on."""
        ...


class UpstreamError(HybridError):
    """The model's server answered in a way a provider cannot use (a cut body, a malformed chunk, an
    error event); the provider tells the user as a `StreamError`."""
