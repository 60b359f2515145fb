"""`examples/chat_with_your_data.py` as a user runs it: with the demo model, and with an OpenAI-compatible
server (the simulator), in Chromium.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from examples.chat_with_your_data import ALL, requested_view, summary
from tests.conftest import Server
from tests.test_ui import WATCH_CSP

APP = "examples.chat_with_your_data:server"


def open_dashboard(page: Page, server: Server) -> None:
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    expect(page.locator("#assistant .empty-state")).to_be_visible()
    expect(page.locator("#figure .gtitle")).to_have_text(f"{ALL}, 2007")


def ask(page: Page, text: str) -> Any:
    page.fill("#assistant .chat-prompt", text)
    page.press("#assistant .chat-prompt", "Enter")
    answer = page.locator("#assistant .assistant-message").last
    expect(answer).to_have_attribute("data-status", "done", timeout=20_000)
    return answer


def thinking(answer: Any) -> str:
    answer.locator(".reasoning summary").click()
    return answer.locator(".reasoning-body").inner_text()


def test_the_assistant_moves_the_filters_and_the_figure_when_asked_and_reads_the_filtered_data(
    serve, page: Page
) -> None:
    server = serve(APP)
    open_dashboard(page, server)
    answer = ask(page, "Show Asia in 1977")

    expect(page.locator("#continent")).to_contain_text("Asia")
    expect(page.locator("#year input")).to_have_value("1977")
    expect(page.locator("#figure .gtitle")).to_have_text("Asia, 1977")  # the figure's callback ran
    assert "Gapminder data for Asia, 1977: 33 countries." in thinking(answer)
    assert "Here is a demo answer to **Show Asia in 1977**" not in answer.inner_text()  # rendered
    assert "demo answer" in answer.locator(".message-body").inner_text()

    page.locator("#year input").fill("1952")  # the user moves the filter; the next question sees it
    page.locator("#year input").press("Tab")
    expect(page.locator("#figure .gtitle")).to_have_text("Asia, 1952")
    later = ask(page, "Which country lives longest here?")
    facts = thinking(later)
    assert "Gapminder data for Asia, 1952" in facts and "highest Israel (65.4)" in facts
    assert page.evaluate("window.cspViolations") == []


def test_the_example_answers_from_an_openai_compatible_model(serve, page: Page, simulator: Any) -> None:
    server = serve(
        APP,
        env={"OPENAI_BASE_URL": simulator.openai_base_url, "OPENAI_API_KEY": "sim", "HYBRID_MODEL": "sim"},
    )
    open_dashboard(page, server)
    answer = ask(page, "Compare the continents")
    assert answer.locator(".message-footer").inner_text().startswith("sim · TTFT ")
    assert simulator.requests("sim")[-1]["closed"] is not None


def test_a_question_names_the_view_it_wants_or_none() -> None:
    assert requested_view("Show Asia in 1977") == ("Asia", 1977)
    assert requested_view("what about 1980?") == (None, 1982)  # the nearest year in the data
    assert requested_view("Compare all continents") == (ALL, None)
    assert requested_view("Which country lives longest?") == (None, None)


def test_the_model_gets_a_compact_summary_of_the_rows_on_screen() -> None:
    facts = summary("Europe", 2007)
    assert facts.splitlines()[0] == "Gapminder data for Europe, 2007: 30 countries."
    assert "highest Iceland (81.8)" in facts
    assert len(facts) < 1_000  # a summary, not the table
