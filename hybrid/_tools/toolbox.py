"""`Toolbox`: the tools of one chat, by name; only these can be called, a round's calls at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from hybrid._tools.context import ToolContext
from hybrid._tools.tool import Tool
from hybrid._wire.parts import ToolCall, ToolResult


class Toolbox:
    """The tools of one chat, by name: only these can be called."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def __bool__(self) -> bool:
        return bool(self.tools)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise ValueError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self.tools.values()]

    async def run(self, calls: Sequence[ToolCall], context: ToolContext) -> AsyncIterator[ToolResult]:
        """Run the calls of one round at once, and give each result as soon as it is ready.

        Closing the iterator, or cancelling the task that reads it, cancels the calls still running.
        """
        tasks = [asyncio.ensure_future(self.call(call, context)) for call in calls]
        try:
            for ready in asyncio.as_completed(tasks):
                yield await ready
        finally:
            for task in tasks:
                task.cancel()

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run one call, if a tool of its name is here; an unknown name is an error the model is told."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return ToolResult(
                call.call_id, call.name, f"error: there is no tool {call.name!r} (tools: {known})", True, 0.0
            )
        return await tool.call(call, context)
