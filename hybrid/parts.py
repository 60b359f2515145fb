"""What an answer is made of besides its text: the parts an answer function (or a provider) yields.

A `str` is text, shown as the answer. The other parts travel as named SSE events, so a plain
dash-extensions `SSE(concat=True)` still reads the text alone, and hybrid's chat shows them apart:

* `Reasoning` as `event: reasoning`, its data the text as a JSON string;
* `SetProps` as `event: set_props`, its data `{"id": ..., "props": {...}}`.
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


Part = str | Reasoning | SetProps
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
    if isinstance(part, Event | str):
        return part
    raise TypeError(
        f"an answer yields text (str), hybrid.Reasoning or hybrid.SetProps, not {type(part).__name__}"
    )
