"""The simulator's tool calls, as the openai SDK reads them: split, parallel, given, and rounds of them."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

import httpx
import openai
import pydantic

from hybrid._tools.tool import Tool
from hybrid._tools.toolbox import Toolbox
from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import run_async
from tests.support.simulator_fixture import SimulatorProcess


class Window(pydantic.BaseModel):
    start: int
    end: int


def show_only(region: Literal["Europe", "Asia"], window: Window, labels: list[str]) -> str:
    """Show only one region."""
    return region


def top_products(n: int, descending: bool = True) -> str:
    """The best sellers."""
    return str(n)


SPECS = Toolbox([Tool.from_function(show_only), Tool.from_function(top_products)]).specs()
QUESTION = [{"role": "user", "content": "show only Europe"}]
MADE_UP = {
    "show_only": {"region": "Europe", "window": {"start": 3, "end": 3}, "labels": ["sim"]},
    "top_products": {"n": 3},
}


def unique(directives: str) -> str:
    return f"sim+{directives}+tag={uuid.uuid4().hex[:8]}"


def stream(
    simulator: SimulatorProcess, model: str, messages: list[dict[str, Any]] = QUESTION
) -> dict[str, Any]:
    """One streamed answer through the SDK: its text, its calls assembled by index, chunks and finish."""

    async def run() -> dict[str, Any]:
        async with openai.AsyncOpenAI(api_key="sk", base_url=simulator.openai_base_url) as client:
            chunks = await client.chat.completions.create(
                model=model,
                messages=messages,
                tools=SPECS,
                stream=True,  # type: ignore[arg-type]
            )
            text, calls, order, finish = [], {}, [], None
            async for chunk in chunks:
                choice = chunk.choices[0]
                text.append(choice.delta.content or "")
                for fragment in choice.delta.tool_calls or []:
                    call = calls.setdefault(fragment.index, {"id": "", "name": "", "arguments": ""})
                    order.append(fragment.index)
                    call["id"] += fragment.id or ""
                    call["name"] += (fragment.function and fragment.function.name) or ""
                    call["arguments"] += (fragment.function and fragment.function.arguments) or ""
                finish = choice.finish_reason or finish
            return {
                "text": "".join(text),
                "calls": [calls[i] for i in sorted(calls)],
                "order": order,
                "finish": finish,
            }

    return run_async(run())


def test_the_sdk_assembles_split_calls_of_the_offered_tools_with_arguments_from_their_schemas(
    simulator: SimulatorProcess,
) -> None:
    model = unique("tools=2+tool_chunk_chars=3")
    answer = stream(simulator, model)
    assert answer["finish"] == "tool_calls" and answer["text"] == ""
    assert [(c["name"], json.loads(c["arguments"])) for c in answer["calls"]] == list(MADE_UP.items())
    pieces = len(answer["calls"][0]["arguments"]) // 3
    assert answer["order"].count(0) > pieces  # the id and name first, then three characters a chunk
    assert answer["order"] == sorted(answer["order"])  # one call after the other, as OpenAI sends them
    record = simulator.closed(model)
    assert record["tools_offered"] == ["show_only", "top_products"]
    assert [(c["id"], c["name"]) for c in record["tool_calls_sent"]] == [
        (c["id"], c["name"]) for c in answer["calls"]
    ]


def test_parallel_calls_can_be_interleaved_and_given_arguments_are_sent_as_they_are(
    simulator: SimulatorProcess,
) -> None:
    given = json.dumps({"top_products": "{not json", "show_only": {"region": "Mars"}})
    answer = stream(
        simulator,
        unique(f"tools=top_products,show_only+tool_interleave=1+tool_chunk_chars=2+tool_args={given}"),
    )
    assert [(c["name"], c["arguments"]) for c in answer["calls"]] == [
        ("top_products", "{not json"),
        ("show_only", '{"region": "Mars"}'),
    ]
    assert answer["order"][:4] == [0, 1, 0, 1]


def test_after_the_results_the_simulator_answers_in_text_and_logs_what_it_was_sent(
    simulator: SimulatorProcess,
) -> None:
    model = unique("tools=1")
    history = [
        *QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "show_only", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "showing Europe"},
    ]
    answer = stream(simulator, model, history)
    assert (answer["text"], answer["finish"], answer["calls"]) == ("".join(answer_tokens(20)), "stop", [])
    record = simulator.closed(model)
    assert record["tool_results_received"] == [{"tool_call_id": "c1", "content": "showing Europe"}]
    assert record["tool_calls_received"][0]["id"] == "c1"
    # Asked for more rounds, it calls again: a model that never stops calling tools.
    assert stream(simulator, unique("tools=1+tool_rounds=99"), history * 3)["finish"] == "tool_calls"


def test_a_non_streamed_answer_holds_the_calls_in_its_message(simulator: SimulatorProcess) -> None:
    client = openai.OpenAI(api_key="sk", base_url=simulator.openai_base_url)
    completion = client.chat.completions.create(model=unique("tools=1"), messages=QUESTION, tools=SPECS)  # type: ignore[arg-type]
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls or []
    assert (call.function.name, json.loads(call.function.arguments)) == ("show_only", MADE_UP["show_only"])  # type: ignore[union-attr]


def test_a_tool_args_directive_that_is_not_a_json_object_is_refused(simulator: SimulatorProcess) -> None:
    body = {"model": "sim+tools=1+tool_args=[1]", "messages": QUESTION, "stream": True}
    response = httpx.post(simulator.openai_base_url + "/chat/completions", json=body, timeout=5)
    assert response.status_code == 400
    assert "tool_args must be a JSON object" in response.json()["error"]["message"]
