"""The tool loop: ask the model, run the calls it makes, send their results back and ask again,
streaming every part of the answer as it goes."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable

from hybrid._errors import StreamError
from hybrid._providers.base import ChatRequest, Completion, Message, Provider
from hybrid._tools.context import ToolContext
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.parts import Part, ToolResult

MAX_ROUNDS = 5
"""Rounds of tool calls one answer may make before the loop stops it (a model calling tools forever)."""


async def answer_with_tools(
    provider: Provider,
    request: ChatRequest,
    toolbox: Toolbox,
    context: ToolContext | None = None,
    *,
    max_rounds: int = MAX_ROUNDS,
    on_completion: Callable[[Completion], None] | None = None,
) -> AsyncIterator[Part]:
    """Answer `request` with `toolbox`'s tools: the tool loop, as an async iterator of parts.

    Each round asks the model (offering the tools) and streams its text and `ToolCallDelta`s. When the
    round ends in tool calls, it yields each `ToolCall` (its arguments complete), runs the calls at once
    with `context`, yields each `ToolResult` as it is ready and the `SetProps` that call asked for, then
    asks again with the calls and their results appended to the conversation. After `max_rounds` rounds
    of calls, a model that still calls tools ends the answer with a `StreamError` that says so.

    The calls of one round all see `context` as the round began; between rounds it follows the changes
    the round's calls made to its `keys` (`ToolContext.follow`), so a later round reads the page as the
    tools left it.

    `on_completion` is told each round's `Completion` (usage, finish reason). Cancelling the task that
    reads the parts (Stop) cancels the tools still running, and closes a round still streaming.
    """
    if max_rounds < 1:
        raise ValueError("max_rounds must be at least 1")
    context = context if context is not None else ToolContext()
    specs = toolbox.specs()
    messages = list(request.messages)
    for rounds_done in range(max_rounds + 1):
        text: list[str] = []
        asked = dataclasses.replace(request, messages=tuple(messages), tools=specs)
        async with contextlib.aclosing(provider.reply(asked)) as reply:
            async for delta in reply:
                if type(delta) is str:
                    text.append(delta)
                yield delta
        completion = reply.completion
        if completion is None:
            return
        if on_completion is not None:
            on_completion(completion)
        calls = completion.tool_calls
        if not calls:
            return
        if rounds_done == max_rounds:
            rounds = f"{max_rounds} round{'s' if max_rounds > 1 else ''}"
            raise StreamError(f"the model was still calling tools after {rounds} of them", type="tool_rounds")
        for call in calls:
            yield call
        results: dict[str, ToolResult] = {}
        async with contextlib.aclosing(toolbox.run(calls, context)) as running:
            async for result in running:
                results[result.call_id] = result
                yield result
                for change in result.changes:
                    yield change
        messages.append(Message("assistant", "".join(text), tool_calls=calls))
        messages.extend(
            Message("tool", results[call.call_id].output, tool_call_id=call.call_id) for call in calls
        )
        # The next round sees the page as this one left it: changes in the order of the calls, so the
        # later call wins whichever finished first.
        context.follow(change for call in calls for change in results[call.call_id].changes)
