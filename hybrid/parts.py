"""What an answer is made of besides its text: the parts an answer function (or a provider) yields.

A `str` is text, shown as the answer. The other parts travel as named SSE events, so a plain
dash-extensions `SSE(concat=True)` still reads the text alone, and hybrid's chat shows them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
