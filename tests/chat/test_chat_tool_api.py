"""`@chat.tool` and the tool loop of a `hybrid.Chat`, in process (the demo model, no server): how tools
are registered and described, what a Chat with tools streams with and without an answer function, the
usage of every round, and Stop during a tool round.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import pytest
from dash import State
from pydantic import Field

import hybrid
from hybrid import Message, Reasoning
from hybrid._chat.stream import ChatStream
from hybrid._errors import StreamError
from hybrid._providers.base import ChatRequest, Completion, Reply, Usage
from hybrid._providers.demo.model import DemoProvider
from hybrid._streams.hooks import StreamHooks
from hybrid._tools.tool import Tool, ToolCall, ToolContext
from hybrid._wire.sse import Event
from tests.conftest import run_async
from tests.support.turns import answer_events, chat_stream
from tests.tools.test_tool_loop import ScriptedProvider, streamed

QUESTION = "show only Asia and the top two products"


def served(chat: hybrid.Chat, hooks: StreamHooks | None = None, provider: Any = None) -> ChatStream:
    stream = chat_stream(provider or DemoProvider(ttft=0, token_delay=0), hooks=hooks)
    stream.serve([chat])
    return stream


def answer_items(
    chat: hybrid.Chat,
    context: list[Any],
    hooks: StreamHooks | None = None,
    question: str = QUESTION,
    provider: Any = None,
) -> list[Any]:
    """The items of `chat`'s answer to `question`, as the stream would write them."""
    stream = served(chat, hooks, provider)

    async def run() -> list[Any]:
        return [item async for item in answer_events(stream, chat, [Message("user", question)], context)]

    return run_async(run())


def events(items: list[Any], name: str) -> list[Any]:
    return [item.data for item in items if isinstance(item, Event) and item.name == name]


def text(items: list[Any]) -> str:
    return "".join(item for item in items if isinstance(item, str))


def shop() -> hybrid.Chat:
    """A Chat with two tools, one sync and one async, one of them reading the context."""
    chat = hybrid.Chat("shop")

    @chat.tool
    def show_only(region: Literal["Europe", "Asia"], context: ToolContext) -> str:
        """Show only one region."""
        context.set_props("region", {"value": region})
        return f"showing {region}, was {context.values[0]}"

    @chat.tool(timeout=5)
    async def top_products(n: Annotated[int, Field(ge=1, le=5)]) -> list[str]:
        """The best-selling products."""
        return ["Bikes", "Helmets", "Lights"][:n]

    return chat


def test_chat_tool_registers_functions_with_or_without_arguments_and_returns_them_unchanged() -> None:
    chat = hybrid.Chat("tools")

    def weather(city: str) -> str:
        """Today's weather in a city.

        More detail the model is not shown.
        """
        return f"sunny in {city}"

    assert chat.tool(weather) is weather and weather("Oslo") == "sunny in Oslo"
    named = chat.tool(name="forecast", timeout=2)(weather)
    assert named is weather
    tools = chat.toolbox.tools
    assert list(tools) == ["weather", "forecast"] and tools["forecast"].timeout == 2
    assert tools["weather"].spec() == Tool.from_function(weather).spec()
    assert tools["weather"].description == "Today's weather in a city."
    with pytest.raises(ValueError, match="two tools are named 'weather'"):
        chat.tool(weather)


def test_a_tool_is_described_by_its_hints_and_docstring_with_its_context_hidden() -> None:
    spec = shop().toolbox.tools
    assert spec["show_only"].parameters["properties"] == {
        "region": {"enum": ["Europe", "Asia"], "title": "Region", "type": "string"}
    }
    n = spec["top_products"].parameters["properties"]["n"]  # Annotated bounds are kept
    assert (n["minimum"], n["maximum"]) == (1, 5)


def test_a_chat_with_tools_and_no_answer_function_answers_from_the_provider_with_them() -> None:
    completions: list[Completion] = []

    class Told(StreamHooks):
        def completed(self, completion: Completion) -> None:
            completions.append(completion)

    items = answer_items(shop(), ["Europe"], Told())
    names = [item.name if isinstance(item, Event) else "text" for item in items]
    assert names[0] == "meta" and names[-1] == "completion"
    assert names.index("tool_call_delta") < names.index("tool_call") < names.index("tool_result")
    assert names.index("tool_result") < names.index("text")  # the answer after the round
    assert [call["name"] for call in events(items, "tool_call")] == ["show_only", "top_products"]
    results = {result["name"]: result for result in events(items, "tool_result")}
    assert results["show_only"]["output"] == "showing Asia, was Europe"  # the context as it was sent
    assert results["top_products"]["output"] == '["Bikes", "Helmets"]'
    assert events(items, "set_props") == [{"id": "region", "props": {"value": "Asia"}}]
    assert "showing Asia, was Europe" in text(items)  # the demo answers with the results
    assert [c.finish_reason for c in completions] == ["tool_calls", "stop"]  # the metrics: every round
    (footer,) = events(items, "completion")  # the footer: the usage of both rounds
    assert footer["completion_tokens"] == sum(c.usage.completion_tokens for c in completions)  # type: ignore[union-attr]
    assert footer["prompt_tokens"] == sum(c.usage.prompt_tokens for c in completions)  # type: ignore[union-attr]


def test_an_answer_function_runs_the_same_loop_through_chat_model_or_asks_without_tools() -> None:
    chat = shop()

    @chat.answer
    async def answer(messages: list[Message], region: str) -> AsyncIterator[Any]:
        yield Reasoning(f"on screen: {region}")
        tools = "without" not in messages[-1].content
        async for part in chat.model(messages, system="Be brief.", tools=tools):
            yield part

    items = answer_items(chat, ["Europe"])
    assert events(items, "reasoning") == ["on screen: Europe"]
    assert [call["name"] for call in events(items, "tool_call")] == ["show_only", "top_products"]
    assert events(items, "set_props") == [{"id": "region", "props": {"value": "Asia"}}]

    plain = answer_items(chat, ["Europe"], question="show only Asia, without tools")
    assert not events(plain, "tool_call_delta") and not events(plain, "set_props")
    assert "demo answer" in text(plain)


def test_stop_during_a_tool_round_cancels_the_running_async_tool_at_once() -> None:
    chat = hybrid.Chat("slow")
    seen: dict[str, float] = {}

    @chat.tool
    async def slow_report() -> str:
        """A slow report."""
        seen["started"] = time.monotonic()
        try:
            await asyncio.sleep(30)
        finally:
            seen["finally"] = time.monotonic()
        return "done"

    stream = served(chat)

    async def run() -> list[str]:
        names: list[str] = []
        started = asyncio.Event()

        async def read() -> None:
            question = [Message("user", "the slow report please")]
            async for item in answer_events(stream, chat, question, []):
                names.append(item.name if isinstance(item, Event) else "text")
                if names[-1] == "tool_call":
                    started.set()

        task = asyncio.ensure_future(read())
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.05)
        stopped = time.monotonic()
        task.cancel()  # what the stream does when the client leaves
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.1)
        seen["stopped"] = stopped
        return names

    names = run_async(run())
    assert names[-1] == "tool_call" and "tool_result" not in names
    assert seen["finally"] - seen["stopped"] < 0.1  # cancelled, not left to run its 30 s


class UsageOnce:
    """The demo model, reporting token usage on its first answer only (as a gateway may drop it)."""

    name = "usage-once"
    models = ("demo",)

    def __init__(self) -> None:
        self.demo = DemoProvider(ttft=0, token_delay=0)
        self.reported: list[Usage | None] = []

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(self._relay(self.demo.reply(request)))

    async def _relay(self, reply: Reply) -> AsyncIterator[Any]:
        async for delta in reply:
            yield delta
        assert reply.completion is not None
        usage = reply.completion.usage if not self.reported else None
        self.reported.append(usage)
        yield dataclasses.replace(reply.completion, usage=usage)

    async def aclose(self) -> None:
        pass


def test_a_later_model_call_without_usage_keeps_the_tokens_of_the_earlier_ones_in_the_footer() -> None:
    chat = hybrid.Chat("twice")

    @chat.answer
    async def answer(messages: list[Message]) -> AsyncIterator[Any]:
        for _ in range(2):
            async for part in chat.model(messages):
                yield part

    provider = UsageOnce()
    (footer,) = events(answer_items(chat, [], provider=provider), "completion")
    first, second = provider.reported
    assert first is not None and second is None
    assert (footer["prompt_tokens"], footer["completion_tokens"]) == (
        first.prompt_tokens,
        first.completion_tokens,
    )


def region_chat(**options: Any) -> hybrid.Chat:
    """A Chat with the region in its context, a tool that moves it and one that reads it."""
    chat = hybrid.Chat("regions", context=[State("region", "value")], **options)

    @chat.tool
    def show_only(region: Literal["Europe", "Asia"], context: ToolContext) -> str:
        """Show only one region."""
        context.set_props("region", {"value": region})
        return f"showing {region}"

    @chat.tool
    def on_screen(context: ToolContext) -> str:
        """The region on screen."""
        return str(context.values[0])

    return chat


MOVE = (ToolCall("a", "show_only", '{"region": "Asia"}'), ToolCall("b", "on_screen", "{}"))
READ = (ToolCall("c", "on_screen", "{}"),)


def test_a_chats_tools_read_in_later_rounds_the_context_values_its_tools_changed() -> None:
    provider = ScriptedProvider([(streamed(MOVE), MOVE), (streamed(READ), READ), (["Done."], ())])
    items = answer_items(region_chat(), ["Europe"], provider=provider)
    outputs = {result["id"]: result["output"] for result in events(items, "tool_result")}
    assert outputs == {"a": "showing Asia", "b": "Europe", "c": "Asia"}  # `b` ran beside the move


def test_the_tool_round_limit_is_the_chats_and_chat_model_may_set_its_own() -> None:
    forever = ScriptedProvider([(streamed(READ), READ)], repeat_last=True)
    with pytest.raises(StreamError, match="still calling tools after 2 rounds"):
        answer_items(region_chat(max_tool_rounds=2), ["Europe"], provider=forever)
    assert len(forever.requests) == 3

    chat = region_chat(max_tool_rounds=2)

    @chat.answer
    async def answer(messages: list[Message], region: str) -> AsyncIterator[Any]:
        async for part in chat.model(messages, max_tool_rounds=4):
            yield part

    again = ScriptedProvider([(streamed(READ), READ)], repeat_last=True)
    with pytest.raises(StreamError, match="still calling tools after 4 rounds"):
        answer_items(chat, ["Europe"], provider=again)
    with pytest.raises(ValueError, match="max_tool_rounds must be at least 1"):
        hybrid.Chat("none", max_tool_rounds=0)
