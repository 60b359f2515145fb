"""`ToolContext`: what a tool may ask for besides its arguments: the chat's context values, and the page.

A parameter annotated `ToolContext` is not shown to the model: hybrid passes the answer's context values
there (following the tools' own changes from one round to the next), and a way to change the page
(`context.set_props`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hybrid._tools.threads import SyncThreads
from hybrid._wire.parts import SetProps


@dataclass(slots=True)
class ToolContext:
    """What a tool may ask for besides its arguments: the request's context values, and the page.

    Each call gets its own copy, so the changes a call asks for come back with its result.
    """

    values: tuple[Any, ...] = ()
    """The chat's context values, in the chat's order: as the user sent them, then as the tools of
    earlier rounds of the answer changed them (see `keys`)."""
    changes: list[SetProps] = field(default_factory=list)
    keys: tuple[tuple[str | dict[str, Any], str], ...] = ()
    """The (component id, property) each value is of, when known (a Chat's context `State`s): a call's
    `set_props` of one of them changes that value for the calls of the rounds that follow."""
    threads: SyncThreads | None = None
    """The threads sync tools run on: the app's (`HYBRID_TOOL_THREADS`); unset, a default pool."""
    check: Callable[[dict[str, Any]], Any] | None = None
    """Refuses props that would put HTML or script into the page (`UnsafeProp`): a Chat's `page_props`."""

    def set_props(self, component_id: str | dict[str, Any], props: dict[str, Any]) -> None:
        """Change properties of a component of the page once the call returns (Dash's `set_props`).

        Props that would put HTML or script into the page raise `UnsafeProp` (the call fails, and the
        model is told why) unless the Chat allows them by name.
        """
        if self.check is not None:
            self.check(props)
        self.changes.append(SetProps(component_id, props))

    def follow(self, changes: Iterable[SetProps]) -> None:
        """Take the values `changes` set on the context's (component, property) pairs, in their order.

        Only plain JSON data is taken: a figure object or a `dash.Patch` becomes data in the page alone.
        """
        values = list(self.values)
        for change in changes:
            for index, (component_id, prop) in enumerate(self.keys[: len(values)]):
                value = change.props.get(prop, _UNSET)
                if change.component_id == component_id and isinstance(value, _PLAIN):
                    values[index] = value
        self.values = tuple(values)


_UNSET = object()
_PLAIN = (str, int, float, bool, list, dict, type(None))
