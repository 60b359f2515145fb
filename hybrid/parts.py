"""What an answer is made of besides its text: the parts an answer function (or a provider) yields.

A `str` is text, shown as the answer. The other parts travel as named SSE events, so a plain
dash-extensions `SSE(concat=True)` still reads the text alone, and hybrid's chat shows them apart:

* `Reasoning` as `event: reasoning`, its data the text as a JSON string;
* `SetProps` as `event: set_props`, its data `{"id": ..., "props": {...}}`;
* the tool parts (`ToolCallDelta`, `ToolCall`, `ToolResult`) as the event their `event()` gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hybrid.sse import Event


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning ("thinking"), shown apart from the answer, folded once it ends."""

    text: str


@dataclass(frozen=True, slots=True)
class SetProps:
    """Change properties of another component of the page, as Dash's `set_props` does.

    `component_id` is the component's id (a string, or a dict for pattern-matching ids); `props` maps
    property names to JSON-serialisable values.
    """

    component_id: str | dict[str, Any]
    props: dict[str, Any]


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
    """

    call_id: str
    name: str
    output: str
    error: bool
    seconds: float
    changes: tuple[SetProps, ...] = ()

    def event(self) -> Event:
        """`event: tool_result`, `{"id", "name", "output", "error", "seconds"}` (the changes travel apart,
        as `SetProps` parts)."""
        data = {"id": self.call_id, "name": self.name, "output": self.output, "error": self.error}
        return Event("tool_result", {**data, "seconds": round(self.seconds, 3)})


Part = str | Reasoning | SetProps | ToolCallDelta | ToolCall | ToolResult
"""One piece of an answer, in the order it is shown."""


def to_item(part: Part | Event, plain: Callable[[Any], Any] | None = None) -> str | Event:
    """What the stream writes for `part`: text as it is, the other parts as named events.

    `plain` turns a `SetProps`' values into plain JSON data (the Dash side passes Dash's own encoding,
    so figures and components work); an `Event` passes through, for metadata of the developer's own.
    """
    if type(part) is str:
        return part
    if isinstance(part, Reasoning):
        return Event("reasoning", part.text)
    if isinstance(part, SetProps):
        props = plain(part.props) if plain is not None else part.props
        return Event("set_props", {"id": part.component_id, "props": props})
    if isinstance(part, ToolCallDelta | ToolCall | ToolResult):
        return part.event()
    if isinstance(part, Event | str):
        return part
    raise TypeError(
        f"an answer yields text (str), hybrid.Reasoning or hybrid.SetProps, not {type(part).__name__} "
        "(and what hybrid.tools.answer_with_tools yields)"
    )
