"""The page resumes its answers by itself (Debian's Chromium, the built-in page against the simulator
through the openai provider): a reload mid-answer, a network that cuts every stream, Stop, and a page that
comes back after the server's grace. The answer is compared with the simulator's known text, and the
simulator's request log counts what the model was asked. Each test fails on an uncaught page error or a
CSP violation.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import Server
from tests.support.cutting_proxy import cutting_proxy
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.watched import watched

TOKENS = 60  # one pass of the simulator's corpus: each of its sentences shows once
WHOLE = "".join(answer_tokens(TOKENS))
KEPT = """() => {
  const state = JSON.parse(localStorage.getItem("hybrid.chat.v1:chat"));
  const conversation = state.conversations.find((c) => c.id === state.current);
  const { content, status, resume } = conversation.messages.at(-1);
  return { content, status, resumable: Boolean(resume) };
}"""
"""The page Chat's last answer as its history keeps it."""


@pytest.fixture
def simulated(serve: Callable[..., Server], simulator: SimulatorProcess) -> Callable[..., Server]:
    """Start the built-in page answering from the simulator with a model of its own (its requests are
    the test's), `TOKENS` tokens `token_ms` apart, changed by `directives` (`+stall_after=12`)."""

    def start(token_ms: int = 50, directives: str = "", **env: str) -> Server:
        model = f"sim+tokens={TOKENS}+token_ms={token_ms}{directives}+tag={uuid.uuid4().hex[:8]}"
        server = serve(
            env={
                "OPENAI_API_KEY": "sk-test",
                "OPENAI_BASE_URL": simulator.openai_base_url,
                "HYBRID_MODEL": model,
                **env,
            }
        )
        server.model = model  # type: ignore[attr-defined]
        return server

    return start


@pytest.fixture
def page(page: Page) -> Iterator[Page]:
    with watched(page):
        yield page


def ask(page: Page, url: str, question: str) -> None:
    page.goto(url)
    expect(page.locator(".empty-state")).to_be_visible()
    page.fill("#prompt", question)
    page.press("#prompt", "Enter")


def answer_shows(page: Page, text: str, timeout: float = 10_000) -> None:
    expect(page.locator(".assistant-message .message-body")).to_contain_text(text, timeout=timeout)


def finished_once(page: Page, timeout: float = 20_000) -> dict[str, Any]:
    """Wait for the answer to end; what the page kept of it, checked to show once."""
    answer = page.locator(".assistant-message")
    expect(answer).to_have_count(1)
    expect(answer).to_have_attribute("data-status", "done", timeout=timeout)
    shown = answer.locator(".message-body").inner_text()
    assert shown.count("Streaming keeps a chat responsive") == 1 and shown.count("It can be slow") == 1
    return page.evaluate(KEPT)


def asked(simulator: SimulatorProcess, server: Server) -> list[dict[str, Any]]:
    return simulator.requests(server.model)  # type: ignore[attr-defined]


def test_a_reload_mid_answer_shows_the_whole_answer_once_from_one_model_request(
    simulated: Callable[..., Server], simulator: SimulatorProcess, page: Page
) -> None:
    server = simulated()
    ask(page, server.url + "/", "resume me after a reload")
    answer_shows(page, "Streaming keeps a chat responsive")
    assert page.evaluate(KEPT)["resumable"]  # the page kept the answer's name for the server
    page.reload()

    assert finished_once(page) == {"content": WHOLE, "status": "done", "resumable": False}
    assert len(asked(simulator, server)) == 1


def test_a_reload_after_the_start_was_dropped_carries_on_from_what_the_page_kept(
    simulated: Callable[..., Server], simulator: SimulatorProcess, page: Page
) -> None:
    # The server keeps only the last 4 to 7 events of an answer; this one stalls after 12 tokens (about
    # 14 events: where it stays), then fails when the model has been silent for 4 s.
    server = simulated(
        directives="+stall_after=12", HYBRID_RESUME_MAX_EVENTS="4", HYBRID_TOKEN_GAP_TIMEOUT_SECONDS="4"
    )
    resumes: list[tuple[str | None, int]] = []
    page.on(
        "response",
        lambda response: (
            "/api/stream/" in response.url
            and resumes.append((response.request.headers.get("last-event-id"), response.status))
        ),
    )
    ask(page, server.url + "/", "resume me from what I kept")
    first_twelve = "".join(answer_tokens(12))
    answer_shows(page, first_twelve)
    page.reload()

    answer = page.locator(".assistant-message")
    expect(answer).to_have_attribute("data-status", "error", timeout=10_000)
    expect(answer.locator(".message-error")).to_contain_text("the model went silent for 4 s")
    assert page.evaluate(KEPT)["content"] == first_twelve  # once: nothing repeated, nothing lost
    (from_start, refused), (after_kept, resumed) = resumes
    assert (from_start, refused) == ("0", 410) and int(after_kept or 0) > 0 and resumed == 200
    assert len(asked(simulator, server)) == 1


def test_a_network_that_cuts_every_stream_loses_nothing_and_asks_the_model_once(
    simulated: Callable[..., Server], simulator: SimulatorProcess, page: Page
) -> None:
    server = simulated(token_ms=20)
    with cutting_proxy(urlsplit(server.url).port, after_bytes=900) as proxy:  # type: ignore[arg-type]
        ask(page, proxy.url + "/", "resume me through a bad network")
        assert finished_once(page) == {"content": WHOLE, "status": "done", "resumable": False}
        assert proxy.cuts >= 3, proxy.cuts  # the answer came in pieces, each stream cut
    assert len(asked(simulator, server)) == 1


def test_stop_on_a_resumable_answer_closes_the_model_request_within_100_ms(
    simulated: Callable[..., Server], simulator: SimulatorProcess, page: Page
) -> None:
    server = simulated()
    ask(page, server.url + "/", "resume me, then stop")
    answer_shows(page, "Streaming keeps a chat responsive")
    stopped_at = time.time()
    page.click("#stop")

    record = simulator.closed(server.model)  # type: ignore[attr-defined]
    assert record["outcome"] == "client_closed"
    assert record["closed"] - stopped_at < 0.1, record["closed"] - stopped_at
    expect(page.locator(".assistant-message")).to_have_attribute("data-status", "stopped")
    kept = page.evaluate(KEPT)
    assert kept["status"] == "stopped" and WHOLE.startswith(kept["content"]) and kept["content"] != WHOLE


def test_a_page_back_after_the_grace_says_the_answer_is_gone(
    simulated: Callable[..., Server], simulator: SimulatorProcess, browser: Any
) -> None:
    server = simulated(HYBRID_RESUME_GRACE_SECONDS="1")
    context = browser.new_context()
    try:
        with watched(context.new_page()) as first:
            ask(first, server.url + "/", "resume me too late")
            answer_shows(first, "Streaming keeps a chat responsive")
        first.close()  # the tab closes mid-answer
        simulator.closed(server.model, timeout=5)  # type: ignore[attr-defined]  # abandoned after the grace

        with watched(context.new_page()) as back:
            back.goto(server.url + "/")
            answer = back.locator(".assistant-message")
            expect(answer).to_have_attribute("data-status", "error", timeout=5_000)
            expect(answer.locator(".message-error")).to_contain_text("the server no longer has this answer")
            expect(answer.get_by_role("button", name="Retry")).to_be_visible()
            assert back.evaluate(KEPT)["resumable"] is False
    finally:
        context.close()
