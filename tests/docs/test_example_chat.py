"""`examples/chat_with_your_data.py` as a user runs it: with the demo model, and with an OpenAI-compatible
server (the simulator), in Chromium.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import httpx
from playwright.sync_api import Page, expect

import hybrid
from examples.chat_with_your_data import (
    ALL,
    CONTINENTS,
    Continent,
    assistant,
    describe_column,
    show_year,
    summary,
    top_products,
)
from hybrid._providers.demo.model import DemoProvider
from hybrid._tools.loop import answer_with_tools
from hybrid._tools.tool import ToolContext
from hybrid._wire.parts import ToolCall, ToolResult
from tests.conftest import Server, run_async, signed
from tests.support.sse_client import answer, parse
from tests.support.watched import WATCH_CSP

APP = "examples.chat_with_your_data:server"


def open_dashboard(page: Page, server: Server) -> None:
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    expect(page.locator("#assistant .empty-state")).to_be_visible()
    # Plotly's 3.5 MB script, then the figure's callback: past the default 5 s on a loaded machine.
    expect(page.locator("#figure .gtitle")).to_have_text(f"{ALL}, 2007", timeout=15_000)


def ask(page: Page, text: str) -> Any:
    page.fill("#assistant .chat-prompt", text)
    page.press("#assistant .chat-prompt", "Enter")
    answer = page.locator("#assistant .assistant-message").last
    expect(answer).to_have_attribute("data-status", "done", timeout=20_000)
    return answer


def thinking(answer: Any) -> str:
    answer.locator(".reasoning summary").click()
    return answer.locator(".reasoning-body").inner_text()


def cards(answer: Any) -> list[tuple[str, str]]:
    """Each tool card's name and status."""
    return answer.locator(".tool-call").evaluate_all(
        "nodes => nodes.map(n => [n.querySelector('.tool-name').textContent, n.dataset.status])"
    )


def test_asked_to_show_only_europe_and_the_top_three_products_the_assistant_calls_its_tools(
    serve, page: Page
) -> None:
    server = serve(APP)
    open_dashboard(page, server)
    answer = ask(page, "Show only Europe and tell me the top three products")

    assert [tuple(card) for card in cards(answer)] == [("show_only", "done"), ("top_products", "done")]
    expect(page.locator("#continent")).to_contain_text("Europe")
    expect(page.locator("#figure .gtitle")).to_have_text("Europe, 2007")  # the figure's callback ran
    text = answer.locator(".message-body").inner_text()
    assert text.index("Germany") < text.index("United Kingdom") < text.index("France")  # from the data
    assert "Italy" not in text
    assert "Gapminder data for All continents, 2007" in thinking(answer)  # what was on screen when asked

    later = ask(page, "Show only Asia in the year 1977")
    assert [name for name, _ in cards(later)] == ["show_only", "show_year"]
    expect(page.locator("#year input")).to_have_value("1977")
    expect(page.locator("#figure .gtitle")).to_have_text("Asia, 1977")

    page.locator("#year input").fill("1952")  # the user moves the filter; the next question sees it
    page.locator("#year input").press("Tab")
    expect(page.locator("#figure .gtitle")).to_have_text("Asia, 1952")
    described = ask(page, "Describe the life expectancy column")
    output = described.locator(".tool-call .tool-output").text_content() or ""
    assert json.loads(output)["highest"] == "Israel (65.4)"
    assert "highest Israel (65.4)" in thinking(described)
    assert page.evaluate("window.cspViolations") == []


SIM_CALLS = {"show_only": {"continent": "Europe"}, "top_products": {"n": 3, "continent": "Europe"}}


def test_the_example_calls_its_tools_through_an_openai_compatible_model(
    serve, page: Page, simulator: Any
) -> None:
    model = "sim+tools=show_only,top_products+tool_args=" + json.dumps(SIM_CALLS, separators=(",", ":"))
    server = serve(
        APP,
        env={"OPENAI_BASE_URL": simulator.openai_base_url, "OPENAI_API_KEY": "sim", "HYBRID_MODEL": model},
    )
    open_dashboard(page, server)
    answer = ask(page, "Show only Europe and tell me the top three products")
    assert [tuple(card) for card in cards(answer)] == [("show_only", "done"), ("top_products", "done")]
    expect(page.locator("#figure .gtitle")).to_have_text("Europe, 2007")
    assert answer.locator(".message-body").inner_text().startswith("Streaming keeps a chat responsive")
    assert answer.locator(".message-footer").inner_text().startswith("sim+tools=")
    asked, answered = simulator.requests(model)[-2:]
    assert asked["tools_offered"] == ["show_only", "show_year", "top_products", "describe_column"]
    results = [
        json.loads(r["content"]) if r["content"].startswith("[") else r["content"]
        for r in answered["tool_results_received"]
    ]
    assert results[0] == "The dashboard shows Europe, 2007: 30 countries."
    assert [row["country"] for row in results[1]] == ["Germany", "United Kingdom", "France"]
    assert answered["closed"] is not None


def test_the_tools_answer_from_the_data_on_screen_or_the_continent_asked_for() -> None:
    assert get_args(Continent) == (ALL, *CONTINENTS)  # the model is offered what the filter can show
    on_screen = ToolContext(values=("Asia", 2007))
    assert [row["country"] for row in top_products(2, on_screen)] == ["China", "Japan"]
    assert top_products(1, on_screen, continent="Europe") == [
        {"country": "Germany", "GDP (billion USD)": 2651}
    ]
    described = describe_column("population", on_screen)
    assert (described["rows"], described["count"], described["highest"]) == (
        "Asia, 2007",
        33,
        "China (1,318,683,096.0)",
    )
    moved = ToolContext(values=(ALL, 2007))
    assert show_year(1980, moved) == "The dashboard shows 1982, the nearest year to 1980."
    assert moved.changes == [hybrid.SetProps("year", {"value": 1982})]


def test_top_products_is_described_to_the_model_by_its_docstring_and_bounds() -> None:
    spec = assistant.toolbox.tools["top_products"].spec()["function"]
    assert "largest gross domestic product (GDP per capita times population)" in spec["description"]
    assert spec["parameters"]["properties"]["n"] == {
        "maximum": 20,
        "minimum": 1,
        "title": "N",
        "type": "integer",
    }
    assert spec["parameters"]["required"] == ["n"]  # context is hidden, continent has a default


def test_the_model_gets_a_compact_summary_of_the_rows_on_screen() -> None:
    facts = summary("Europe", 2007)
    assert facts.splitlines()[0] == "Gapminder data for Europe, 2007: 30 countries."
    assert "highest Iceland (81.8)" in facts
    assert len(facts) < 1_000  # a summary, not the table


MOVE_THEN_ASK = {"show_only": {"continent": "Asia"}, "show_year": {"year": 1977}, "top_products": {"n": 3}}


def test_tools_of_a_later_round_answer_from_the_filters_the_earlier_round_moved(
    serve: Any, simulator: Any
) -> None:
    # Each of two rounds calls all three tools; top_products is given no continent or year, so it reads
    # the dashboard's: in the first round as the user left it, in the second as the first round moved it.
    model = "sim+tools=show_only,show_year,top_products+tool_rounds=2+tool_args=" + json.dumps(
        MOVE_THEN_ASK, separators=(",", ":")
    )
    server = serve(
        APP,
        env={"OPENAI_BASE_URL": simulator.openai_base_url, "OPENAI_API_KEY": "sim", "HYBRID_MODEL": model},
    )
    question = "Show only Asia in the year 1977 and tell me the top three products"
    ticket = {
        "chat": "assistant",
        "messages": [{"role": "user", "content": question}],
        "context": [ALL, 2007],
    }
    response = httpx.post(server.url + "/api/stream", json=signed(ticket), timeout=20)
    assert response.status_code == 200, response.text
    results = [json.loads(m.data) for m in parse(response.text) if m.event == "tool_result"]
    by_round = [
        {r["name"]: r["output"] for r in results[:3]},
        {r["name"]: r["output"] for r in results[3:]},
    ]
    assert by_round[0]["show_only"] == "The dashboard shows Asia, 2007: 33 countries."  # as the round began
    assert by_round[1]["show_only"] == "The dashboard shows Asia, 1977: 33 countries."
    moved = top_products(3, ToolContext(values=("Asia", 1977)))
    assert json.loads(by_round[0]["top_products"]) == top_products(3, ToolContext(values=(ALL, 2007)))
    assert json.loads(by_round[1]["top_products"]) == moved
    assert [row["country"] for row in moved] == ["Japan", "China", "India"]
    assert answer(response.text)[1]
    last = simulator.requests(model)[-1]["tool_results_received"]
    assert json.loads(last[-1]["content"]) == moved  # what the model answers from


def test_asked_for_another_continent_and_year_at_once_the_demo_answers_from_both() -> None:
    # The demo calls the three tools in one round: they run at once, so top_products is told the
    # continent and the year rather than reading the dashboard, which show_only and show_year are moving.
    question = "Show only Asia in the year 1977 and tell me the top three products"
    request = hybrid.ChatRequest([hybrid.Message("user", question)], model="demo")
    context = ToolContext((ALL, 2007), keys=assistant.context_keys)

    async def run() -> list[Any]:
        provider = DemoProvider(ttft=0, token_delay=0)
        return [part async for part in answer_with_tools(provider, request, assistant.toolbox, context)]

    parts = run_async(run())
    calls = {part.name: json.loads(part.arguments) for part in parts if isinstance(part, ToolCall)}
    assert calls == {
        "show_only": {"continent": "Asia"},
        "show_year": {"year": 1977},
        "top_products": {"n": 3, "continent": "Asia", "year": 1977},
    }
    (result,) = [p.output for p in parts if isinstance(p, ToolResult) and p.name == "top_products"]
    assert json.loads(result) == top_products(3, ToolContext(values=("Asia", 1977)))
    assert context.values == ("Asia", 1977)  # the dashboard as the answer left it
