"""The tool loop in process (`answer_with_tools`), with a scripted provider and with the demo model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import pytest

import hybrid
from hybrid import Event, Reasoning
from hybrid._errors import StreamError
from hybrid._providers.base import ChatRequest, Completion, Delta, Message, Reply
from hybrid._providers.demo.model import DemoProvider
from hybrid._tools.loop import answer_with_tools
from hybrid._tools.tool import Tool, ToolContext
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.parts import SetProps, ToolCall, ToolCallDelta, ToolResult
from tests.conftest import run_async

Round = tuple[list[Delta], tuple[ToolCall, ...]]


class ScriptedProvider:
    """A provider that answers each request with the next of its rounds, and keeps the requests."""

    name = "scripted"
    models = ("scripted",)

    def __init__(self, rounds: Sequence[Round], *, repeat_last: bool = False) -> None:
        self.rounds = list(rounds)
        self.repeat_last = repeat_last
        self.requests: list[ChatRequest] = []

    def reply(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        index = len(self.requests) - 1
        deltas, calls = self.rounds[min(index, len(self.rounds) - 1) if self.repeat_last else index]
        return Reply(self._generate(request, deltas, calls))

    async def _generate(
        self, request: ChatRequest, deltas: list[Delta], calls: tuple[ToolCall, ...]
    ) -> AsyncIterator[Delta | Completion]:
        for delta in deltas:
            await asyncio.sleep(0)
            yield delta
        yield Completion(request.model, "tool_calls" if calls else "stop", tool_calls=calls)

    async def aclose(self) -> None:
        pass


def streamed(calls: Sequence[ToolCall]) -> list[Delta]:
    """The deltas a model streams for `calls`: each named, then its arguments in two pieces."""
    deltas: list[Delta] = []
    for index, call in enumerate(calls):
        half = len(call.arguments) // 2
        deltas += [
            ToolCallDelta(index, call.call_id, call.name, part)
            for part in ("", call.arguments[:half], call.arguments[half:])
        ]
    return deltas


finished: dict[str, float] = {}


def show_only(region: Literal["Europe", "Asia"], context: ToolContext) -> str:
    """Show only one region."""
    context.set_props("region", {"value": region})
    return f"showing {region}"


async def wait(seconds: float) -> str:
    """Waits."""
    try:
        await asyncio.sleep(seconds)
        return "waited"
    finally:
        finished["wait"] = time.monotonic()


TOOLS = Toolbox([Tool.from_function(show_only), Tool.from_function(wait)])
QUESTION = ChatRequest([Message("user", "show only Asia")], model="scripted")


def collect(provider: Any, request: ChatRequest = QUESTION, **kwargs: Any) -> list[Any]:
    async def run() -> list[Any]:
        return [part async for part in answer_with_tools(provider, request, TOOLS, **kwargs)]

    return run_async(run())


def test_a_round_of_calls_runs_them_sends_the_results_back_and_the_next_round_streams() -> None:
    calls = (ToolCall("a", "wait", '{"seconds": 0.2}'), ToolCall("b", "show_only", '{"region": "Asia"}'))
    provider = ScriptedProvider([(["Let me look. ", *streamed(calls)], calls), (["Asia ", "it is."], ())])
    rounds: list[Completion] = []
    parts = collect(provider, context=ToolContext(("Europe",)), on_completion=rounds.append)

    deltas = [p for p in parts if isinstance(p, ToolCallDelta)]
    assert parts[0] == "Let me look. " and parts[1 : 1 + len(deltas)] == deltas
    after = parts[1 + len(deltas) :]
    assert after[:2] == list(calls)  # the calls, complete, as they start
    # The results as each call finishes (the fast one first), a result's page changes right after it.
    assert [type(p) for p in after[2:5]] == [ToolResult, SetProps, ToolResult]
    assert (after[2].call_id, after[2].output) == ("b", "showing Asia")
    assert after[3] == SetProps("region", {"value": "Asia"})
    assert (after[4].call_id, after[4].output, after[4].error) == ("a", "waited", False)
    assert after[5:] == ["Asia ", "it is."]
    assert [c.finish_reason for c in rounds] == ["tool_calls", "stop"]

    first, second = provider.requests
    assert [spec["function"]["name"] for spec in first.tools] == ["show_only", "wait"]
    assert first.messages == tuple(QUESTION.messages)
    # The results go back in the order of the calls, whatever order they finished in.
    assert second.messages == (
        *QUESTION.messages,
        Message("assistant", "Let me look. ", tool_calls=calls),
        Message("tool", "waited", tool_call_id="a"),
        Message("tool", "showing Asia", tool_call_id="b"),
    )


def test_every_part_the_loop_yields_becomes_text_or_its_named_event_on_the_wire() -> None:
    calls = (ToolCall("b", "show_only", '{"region": "Asia"}'),)
    thinking = Reasoning("Which region? ")
    provider = ScriptedProvider([([thinking, "Let me look. ", *streamed(calls)], calls), (["Done."], ())])
    items = [hybrid.to_event(part) for part in collect(provider, context=ToolContext(("Europe",)))]
    assert [item if isinstance(item, str) else item.name for item in items] == [
        "reasoning",
        "Let me look. ",
        *["tool_call_delta"] * 3,
        "tool_call",
        "tool_result",
        "set_props",
        "Done.",
    ]
    assert items[0] == Event("reasoning", "Which region? ")
    assert items[7] == Event("set_props", {"id": "region", "props": {"value": "Asia"}})


def test_a_model_that_keeps_calling_tools_is_stopped_with_a_notice_after_max_rounds() -> None:
    call = (ToolCall("a", "show_only", '{"region": "Asia"}'),)
    provider = ScriptedProvider([(streamed(call), call)], repeat_last=True)
    parts: list[Any] = []

    async def run() -> None:
        async for part in answer_with_tools(provider, QUESTION, TOOLS, max_rounds=2):
            parts.append(part)

    with pytest.raises(StreamError) as raised:
        run_async(run())
    assert raised.value.message == "the model was still calling tools after 2 rounds of them"
    assert raised.value.type == "tool_rounds"
    assert len(provider.requests) == 3
    assert sum(isinstance(p, ToolResult) for p in parts) == 2  # the third round's call never ran


def on_screen(context: ToolContext) -> str:
    """What the page shows."""
    return f"{context.values[0]} ({context.values[1]})"


def show_figure(context: ToolContext) -> str:
    """Shows a figure of the region, and a note."""
    context.set_props("region", {"figure": object()})  # not the value: not followed
    context.set_props("note", {"value": "Americas"})  # another component: not followed
    context.set_props("region", {"value": object()})  # not plain data: left to the page
    return "shown"


async def show_later(region: Literal["Europe", "Asia"], context: ToolContext) -> str:
    """Show only one region, after a while."""
    await asyncio.sleep(0.05)
    context.set_props("region", {"value": region})
    return f"showing {region}"


PAGE_TOOLS = Toolbox([Tool.from_function(tool) for tool in (show_only, show_later, on_screen, show_figure)])
PAGE = (("region", "value"), ({"type": "year", "index": 0}, "value"))


def test_later_rounds_see_the_context_values_the_tools_changed_and_one_round_sees_them_as_it_began() -> None:
    def call(call_id: str, name: str, arguments: str = "{}") -> ToolCall:
        return ToolCall(call_id, name, arguments)

    first = (call("a", "on_screen"), call("b", "show_only", '{"region": "Asia"}'), call("c", "show_figure"))
    # Two calls of a round set the region: the later in the model's order wins, though it ends first.
    second = (call("d", "on_screen"), call("e", "show_later", '{"region": "Europe"}'))
    second += (call("g", "show_only", '{"region": "Asia"}'),)
    third = (call("h", "on_screen"),)
    rounds = [(streamed(calls), calls) for calls in (first, second, third)] + [(["Done."], ())]
    context = ToolContext(("Europe", 2007), keys=PAGE)

    async def run() -> list[Any]:
        parts = answer_with_tools(ScriptedProvider(rounds), QUESTION, PAGE_TOOLS, context)
        return [part async for part in parts]

    results = {part.call_id: part.output for part in run_async(run()) if isinstance(part, ToolResult)}
    assert (results["a"], results["d"], results["h"]) == ("Europe (2007)", "Asia (2007)", "Asia (2007)")
    assert context.values == ("Asia", 2007)  # the answer's context, as the page is now


def test_a_pattern_matching_id_in_the_context_is_followed_too() -> None:
    def show_year(year: int, context: ToolContext) -> str:
        """Show a year."""
        context.set_props({"index": 0, "type": "year"}, {"value": year})
        return "shown"

    calls = (ToolCall("a", "show_year", '{"year": 1977}'),)
    tools = Toolbox([Tool.from_function(show_year), Tool.from_function(on_screen)])
    rounds = [
        (streamed(calls), calls),
        (streamed(calls[:0]), (ToolCall("b", "on_screen", "{}"),)),
        (["."], ()),
    ]
    context = ToolContext(("Europe", 2007), keys=PAGE)

    async def run() -> list[Any]:
        return [part async for part in answer_with_tools(ScriptedProvider(rounds), QUESTION, tools, context)]

    (last,) = [p.output for p in run_async(run()) if isinstance(p, ToolResult) and p.call_id == "b"]
    assert last == "Europe (1977)"


def test_stop_during_a_tool_cancels_the_async_tool_within_100_ms() -> None:
    call = (ToolCall("a", "wait", '{"seconds": 10}'),)
    provider = ScriptedProvider([(streamed(call), call), (["never"], ())])

    async def run() -> float:
        running = asyncio.Event()

        async def consume() -> None:
            async for part in answer_with_tools(provider, QUESTION, TOOLS):
                if isinstance(part, ToolCall):
                    running.set()

        task = asyncio.create_task(consume())
        await running.wait()
        await asyncio.sleep(0.05)  # the tool is waiting now
        stopped = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.2)  # (`asyncio.run` cancels what is left when it ends: not before this)
        return stopped

    finished.clear()
    stopped = run_async(run())
    assert finished["wait"] - stopped < 0.1
    assert len(provider.requests) == 1  # the answer ended: no next round


# The demo model.

Region = Literal["Europe", "Asia", "Americas"]


def top_products(n: int, region: Region | None = None) -> list[str]:
    """The best-selling products."""
    return ["Bikes", "Helmets", "Lights", "Locks", "Bells"][:n]


DEMO_TOOLS = Toolbox([Tool.from_function(show_only), Tool.from_function(top_products)])


def demo(message: str, tools: Toolbox = DEMO_TOOLS) -> list[Any]:
    async def run() -> list[Any]:
        request = ChatRequest([Message("user", message)], model="demo")
        provider = DemoProvider(ttft=0, token_delay=0)
        return [part async for part in answer_with_tools(provider, request, tools, ToolContext(("Asia",)))]

    return run_async(run())


def test_the_demo_model_calls_the_tools_a_message_names_and_answers_with_their_results() -> None:
    parts = demo("Show only Europe and tell me the top three products")
    calls = [p for p in parts if isinstance(p, ToolCall)]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("show_only", {"region": "Europe"}),
        ("top_products", {"n": 3, "region": "Europe"}),
    ]
    deltas = [p for p in parts if isinstance(p, ToolCallDelta)]
    assert len(deltas) > 4  # the arguments stream in pieces
    assert SetProps("region", {"value": "Europe"}) in parts
    text = "".join(p for p in parts if isinstance(p, str))
    assert "1. Bikes\n2. Helmets\n3. Lights" in text and "Locks" not in text
    assert "showing Europe" in text


@pytest.mark.parametrize(
    ("message", "arguments"),
    [
        ("top 2 products", {"n": 2}),
        ("in 1977, the top five products of the Americas", {"n": 5, "region": "Americas"}),
        ("the top products", {}),  # nothing given: the tool's validation says what is missing
    ],
)
def test_the_demo_fills_arguments_from_what_the_message_says_nearest_the_tool(
    message: str, arguments: dict[str, Any]
) -> None:
    (call,) = [p for p in demo(message) if isinstance(p, ToolCall)]
    assert json.loads(call.arguments) == arguments


def test_the_demo_model_answers_as_before_when_no_tool_is_named() -> None:
    with_tools = demo("What is in this data?")
    assert all(isinstance(p, str) for p in with_tools)
    assert "".join(with_tools) == "".join(demo("What is in this data?", Toolbox()))
    assert "Here is a demo answer to **What is in this data?**" in "".join(with_tools)
