"""What an answer is made of besides its text: the parts an answer function (or a provider) yields.

A `str` is text, shown as the answer. Every other part travels as the named SSE event its `event()`
gives, so a plain dash-extensions `SSE(concat=True)` still reads the text alone, and hybrid's chat shows
them apart: `Reasoning` (`event: reasoning`), `SetProps` (`set_props`) and the tool parts
(`ToolCallDelta`, `ToolCall`, `ToolResult`). `to_event(part)` is what a stream writes for any part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hybrid._wire.sse import Event


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning ("thinking"), shown apart from the answer, folded once it ends."""

    text: str

    def event(self) -> Event:
        """`event: reasoning`, the text as a JSON string (its line breaks cannot break the frame)."""
        return Event("reasoning", self.text)


@dataclass(frozen=True, slots=True)
class SetProps:
    """Change properties of another component of the page, as Dash's `set_props` does.

    `component_id` is the component's id (a string, or a dict for pattern-matching ids); `props` maps
    property names to JSON-serialisable values.
    """

    component_id: str | dict[str, Any]
    props: dict[str, Any]

    def event(self, plain: Callable[[Any], Any] | None = None) -> Event:
        """`event: set_props`, `{"id", "props"}`; `plain` turns the values into plain JSON data (a Chat
        passes Dash's own encoding, so figures and components work)."""
        return Event(
            "set_props", {"id": self.component_id, "props": plain(self.props) if plain else self.props}
        )


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a tool call as the model writes it, so the page can show the arguments as they stream.

    `index` is the call's place in its round. `call_id` and `name` are the call's, on every piece (hybrid
    makes up an id when a server sends none; `name` is empty until the model has named the tool).
    `arguments` is the next piece of the arguments' JSON text.
    """

    index: int
    call_id: str
    name: str
    arguments: str

    def event(self) -> Event:
        """`event: tool_call_delta`, `{"index", "id", "name", "arguments"}`."""
        data = {"index": self.index, "id": self.call_id, "name": self.name, "arguments": self.arguments}
        return Event("tool_call_delta", data)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asked for: which tool, and its arguments as the JSON text the model wrote.

    As a part, it says the call's arguments are complete and the tool is running.
    """

    call_id: str
    name: str
    arguments: str

    def event(self) -> Event:
        """`event: tool_call`, `{"id", "name", "arguments"}`."""
        return Event("tool_call", {"id": self.call_id, "name": self.name, "arguments": self.arguments})


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a call gave back: `output` is what the model sees; `error` whether the call failed.

    `changes` are the page changes the call asked for (`ToolContext.set_props`); a failed call has none.
    `shown` is what the page shows instead of `output`, when that differs: for an unexpected exception,
    its type without its text, which may name hosts, paths or data of the server.
    """

    call_id: str
    name: str
    output: str
    error: bool
    seconds: float
    changes: tuple[SetProps, ...] = ()
    shown: str | None = None

    def event(self) -> Event:
        """`event: tool_result`, `{"id", "name", "output", "error", "seconds"}`, its output the page's
        (the changes travel apart, as `SetProps` parts)."""
        output = self.output if self.shown is None else self.shown
        data = {"id": self.call_id, "name": self.name, "output": output, "error": self.error}
        return Event("tool_result", {**data, "seconds": round(self.seconds, 3)})


Part = str | Reasoning | SetProps | ToolCallDelta | ToolCall | ToolResult
"""One piece of an answer, in the order it is shown."""


def to_event(part: Part | Event, plain: Callable[[Any], Any] | None = None) -> str | Event:
    """What a stream writes for `part`: text as it is, every other part as its named event.

    `plain` turns a `SetProps`' values into plain JSON data (see `SetProps.event`); an `Event` passes
    through, for metadata of the developer's own.
    """
    if isinstance(part, str | Event):
        return part
    if isinstance(part, SetProps):
        return part.event(plain)
    if isinstance(part, Reasoning | ToolCallDelta | ToolCall | ToolResult):
        return part.event()
    raise TypeError(
        f"an answer yields text (str), hybrid.Reasoning or hybrid.SetProps, not {type(part).__name__} "
        "(and the tool parts the tool loop yields)"
    )
