"""Tools in process: the schema a signature gives, and every way a call can go wrong becoming its result."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import Literal

import pydantic
import pytest

from hybrid._tools.tool import Tool, ToolCall, ToolContext, ToolError, ToolResult
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.parts import SetProps
from tests.conftest import run_async


class Filter(pydantic.BaseModel):
    region: Literal["Europe", "Asia"]
    top: int = 3


def top_products(
    filter: Filter, columns: list[str] | None = None, context: ToolContext | None = None
) -> dict:
    """The best-selling products in a region.

    The rest of the docstring is for people, not for the model.
    """
    assert context is not None
    context.set_props("region", {"value": filter.region})
    return {
        "region": filter.region,
        "top": filter.top,
        "columns": columns,
        "asked_with": list(context.values),
    }


async def slow(seconds: float) -> str:
    """Waits, then answers."""
    await asyncio.sleep(seconds)
    return "done"


def broken(reason: str) -> str:
    """Always fails."""
    if reason == "told":
        raise ToolError("the warehouse is closed today")
    raise KeyError(reason)


def call(tool: Tool, arguments: object, context: ToolContext | None = None) -> object:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return run_async(tool.call(ToolCall("call-1", tool.name, text), context or ToolContext()))


def test_the_schema_comes_from_the_signature_and_the_description_from_the_docstring() -> None:
    spec = Tool.from_function(top_products).spec()["function"]
    assert spec["name"] == "top_products"
    assert spec["description"] == "The best-selling products in a region."
    parameters = spec["parameters"]
    assert parameters["required"] == ["filter"]
    assert set(parameters["properties"]) == {"filter", "columns"}  # the ToolContext is not shown
    assert parameters["additionalProperties"] is False
    region = parameters["$defs"]["Filter"]["properties"]["region"]
    assert region["enum"] == ["Europe", "Asia"]


def test_a_call_gets_validated_arguments_and_the_context_and_can_change_the_page() -> None:
    context = ToolContext(values=("Europe", 2024))
    result = call(Tool.from_function(top_products), {"filter": {"region": "Asia"}}, context)
    assert not result.error
    assert json.loads(result.output) == {
        "region": "Asia",
        "top": 3,
        "columns": None,
        "asked_with": ["Europe", 2024],
    }
    assert [(change.component_id, change.props) for change in result.changes] == [
        ("region", {"value": "Asia"})
    ]
    assert not context.changes  # each call has its own copy: its changes come back with its result


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"filter": {"region": "Mars"}}, "filter.region: Input should be 'Europe' or 'Asia'"),
        ({"filter": {"region": "Asia", "top": "many"}}, "filter.top: Input should be a valid integer"),
        ({}, "filter: Missing required keyword only argument"),
        ({"filter": {"region": "Asia"}, "drop_tables": True}, "drop_tables: Unexpected keyword argument"),
        ("[1, 2]", "the arguments must be a JSON object"),
        ("{not json", "the arguments are not valid JSON"),
    ],
)
def test_bad_arguments_go_back_to_the_model_and_the_function_never_runs(
    arguments: object, problem: str
) -> None:
    result = call(Tool.from_function(top_products), arguments)
    assert result.error
    assert problem in result.output
    assert not result.changes


def test_a_raising_tool_reports_its_error_and_its_own_sentence_when_it_has_one() -> None:
    tool = Tool.from_function(broken)
    told = call(tool, {"reason": "told"})
    assert told.output == told.event().data["output"] == "error: the warehouse is closed today"
    unexpected = call(tool, {"reason": "shelf"})
    assert unexpected.error and unexpected.output == "error: the tool failed (KeyError: 'shelf')"


def test_the_page_is_shown_an_unexpected_exceptions_type_and_the_model_its_text_too() -> None:
    def connect() -> str:
        """Connects to the warehouse."""
        raise ConnectionError("db-7.internal:5432 refused (password file /etc/warehouse/secret)")

    result = call(Tool.from_function(connect), {})
    assert result.output == (  # what the model reads, to try again or explain
        "error: the tool failed (ConnectionError: db-7.internal:5432 refused (password file "
        "/etc/warehouse/secret))"
    )
    assert result.event().data["output"] == "error: the tool failed (ConnectionError)"  # the card's


def test_a_slow_tool_is_cancelled_at_its_timeout() -> None:
    started = time.monotonic()
    result = call(Tool.from_function(slow, timeout=0.1), {"seconds": 5})
    assert result.error and result.output == "error: the tool did not finish within 0.1 s"
    assert time.monotonic() - started < 1


def results(box: Toolbox, calls: list[ToolCall]) -> list[ToolResult]:
    async def run() -> list[ToolResult]:
        return [result async for result in box.run(calls, ToolContext())]

    return run_async(run())


def test_only_registered_tools_run_and_the_calls_of_a_round_run_at_once() -> None:
    box = Toolbox([Tool.from_function(slow), Tool.from_function(broken)])
    calls = [
        ToolCall("a", "slow", '{"seconds": 0.3}'),
        ToolCall("b", "slow", '{"seconds": 0.2}'),
        ToolCall("c", "exec", '{"code": "import os"}'),
    ]
    started = time.monotonic()
    ready = results(box, calls)
    assert time.monotonic() - started < 0.45  # not one after the other
    # Each result as soon as it is ready: the unknown tool's at once, the shorter wait's before the longer.
    assert [(r.call_id, r.error) for r in ready] == [("c", True), ("b", False), ("a", False)]
    assert ready[0].output == "error: there is no tool 'exec' (tools: slow, broken)"


def test_a_sync_tool_past_its_timeout_is_abandoned_and_the_round_goes_on() -> None:
    def stuck(seconds: float) -> str:
        """Blocks its thread."""
        time.sleep(seconds)
        return "late"

    result = call(Tool.from_function(stuck, timeout=0.1), {"seconds": 1})
    assert result.error and result.output == "error: the tool did not finish within 0.1 s"
    assert result.seconds < 0.5  # the answer goes on; the thread sleeps on, a daemon nobody waits for


def test_a_timeout_the_tool_itself_hits_is_the_tools_failure_not_its_time_limit() -> None:
    async def fetch() -> str:
        """Fetches with a short deadline of its own."""
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
        return "never"

    result = call(Tool.from_function(fetch, timeout=5), {})
    assert result.error and result.output == "error: the tool failed (TimeoutError: )"


def test_a_failed_call_changes_nothing_on_the_page() -> None:
    def half_done(context: ToolContext) -> str:
        """Changes the page, then fails."""
        context.set_props("region", {"value": "Asia"})
        raise ToolError("the second step failed")

    result = call(Tool.from_function(half_done), {})
    assert result.error and result.changes == ()


def test_two_tools_cannot_share_a_name() -> None:
    with pytest.raises(ValueError, match="two tools are named 'slow'"):
        Toolbox([Tool.from_function(slow), Tool.from_function(slow)])


@pytest.mark.parametrize(
    ("function", "name"),
    [
        (lambda region: region, None),  # registers as `<lambda>`
        (slow, "has space!"),
        (slow, "x" * 65),
        (slow, ""),
    ],
)
def test_a_name_openai_would_refuse_is_refused_at_registration(function: object, name: str | None) -> None:
    with pytest.raises(ValueError, match=r"a tool's name must be 1 to 64 letters, digits, _ or -"):
        Tool.from_function(function, name=name)  # type: ignore[arg-type]


def test_a_lambda_registers_under_a_name_of_its_own() -> None:
    tool = Tool.from_function(lambda region: f"showing {region}", name="show-only_2")
    assert tool.spec()["function"]["name"] == "show-only_2"
    assert call(tool, {"region": "Asia"}).output == "showing Asia"


def takes_args(*regions: str) -> str:
    """Regions."""
    return ", ".join(regions)


def takes_kwargs(n: int, **options: str) -> str:
    """Options."""
    return str(options)


def takes_positional_only(n: int, /) -> str:
    """Positional."""
    return str(n)


@pytest.mark.parametrize(("function", "parameter"), [(takes_args, "*regions"), (takes_kwargs, "**options")])
def test_a_function_taking_star_args_or_star_star_kwargs_is_refused_with_the_reason(
    function: object, parameter: str
) -> None:
    with pytest.raises(TypeError) as refused:
        Tool.from_function(function)  # type: ignore[arg-type]
    assert str(refused.value) == (
        f"the tool {function.__name__} takes {parameter}: the model sends named arguments "  # type: ignore[attr-defined]
        "only, so each of a tool's parameters needs a name of its own"
    )


class Catalogue:
    """Products in stock."""

    def __init__(self, products: list[str]) -> None:
        self.products = products

    def __call__(self, n: int, context: ToolContext) -> list[str]:
        """The first n products in stock."""
        context.set_props("shown", {"value": n})
        return self.products[:n]


class AsyncCatalogue:
    async def __call__(self, n: int) -> list[str]:
        """The first n products, looked up."""
        await asyncio.sleep(0)
        return ["Bikes", "Helmets"][:n]


def test_a_callable_object_is_a_tool_named_after_its_class_and_described_by_its_call() -> None:
    tool = Tool.from_function(Catalogue(["Bikes", "Helmets", "Lights"]))
    spec = tool.spec()["function"]
    assert (spec["name"], spec["description"]) == ("Catalogue", "The first n products in stock.")
    assert set(spec["parameters"]["properties"]) == {"n"}
    result = call(tool, {"n": 2})
    assert (result.output, result.changes) == ('["Bikes", "Helmets"]', (SetProps("shown", {"value": 2}),))
    # An async `__call__` is awaited on the loop, not run on a thread (which would return a coroutine).
    assert call(Tool.from_function(AsyncCatalogue(), name="lookup"), {"n": 1}).output == '["Bikes"]'


def test_a_partial_is_a_tool_of_its_function_with_the_bound_arguments_hidden_from_the_model() -> None:
    def products(region: Literal["Europe", "Asia"], n: int, shop: str) -> str:
        """The products of a region."""
        return f"{n} in {region} at {shop}"

    tool = Tool.from_function(functools.partial(products, "Asia", shop="the main shop"))
    spec = tool.spec()["function"]
    assert (spec["name"], spec["description"]) == ("products", "The products of a region.")
    assert set(spec["parameters"]["properties"]) == {"n"}
    assert call(tool, {"n": 2}).output == "2 in Asia at the main shop"
    assert "shop: Unexpected keyword argument" in call(tool, {"n": 2, "shop": "mine"}).output
