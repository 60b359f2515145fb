"""Reasoning models: their thinking parsed from both fields compatible servers use, streamed as
`hybrid.Reasoning`, counted as answering for the deadlines, shown by the built-in page; and the length
limit sent as `max_completion_tokens` to a model that refuses `max_tokens`. Against the simulator.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hybrid import Reasoning
from hybrid._providers.base import ChatRequest, Message
from hybrid._providers.openai.chunks import ChunkDecoder
from hybrid.dev.simulator.scenario import answer_tokens, thinking_tokens
from tests.conftest import run_async
from tests.providers.test_providers import provider
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.watched import WATCH_CSP


def chunk(**delta: Any) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n"


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_the_decoder_reads_thinking_from_either_field_before_the_text(field: str) -> None:
    decoder = ChunkDecoder()
    assert decoder.feed(chunk(role="assistant", content="")) == ""
    assert not decoder.started
    assert decoder.feed(chunk(**{field: "Let me "}) + chunk(**{field: "think."})) == ""
    assert decoder.reasoning == "Let me think." and decoder.started  # the model is answering
    assert decoder.feed(chunk(**{field: " Done."}) + chunk(content="The answer")) == "The answer"
    assert decoder.reasoning == " Done."
    assert decoder.feed(chunk(content=" goes on", **{field: None})) == " goes on"
    assert decoder.reasoning == ""  # only this read's thinking


def reply_parts(
    simulator: SimulatorProcess, model: str, max_tokens: int | None = None, **timeouts: float
) -> list[Any]:
    async def run() -> list[Any]:
        source = provider(simulator.openai_base_url, **timeouts)
        try:
            reply = source.reply(
                ChatRequest([Message("user", "think first")], model=model, max_tokens=max_tokens)
            )
            return [part async for part in reply]
        finally:
            await source.aclose()

    return run_async(run())


def joined(parts: list[Any]) -> tuple[str, str]:
    thinking = "".join(part.text for part in parts if isinstance(part, Reasoning))
    return thinking, "".join(part for part in parts if isinstance(part, str))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_a_reasoning_model_streams_its_thinking_then_its_answer(
    simulator: SimulatorProcess, field: str
) -> None:
    parts = reply_parts(simulator, f"sim+reasoning=12+reasoning_field={field}")
    first_text = next(index for index, part in enumerate(parts) if isinstance(part, str))
    assert all(isinstance(part, Reasoning) for part in parts[:first_text])
    assert not any(isinstance(part, Reasoning) for part in parts[first_text:])
    assert joined(parts) == ("".join(thinking_tokens(12)), "".join(answer_tokens(20)))


def test_thinking_counts_as_answering_for_the_first_token_and_gap_deadlines(
    simulator: SimulatorProcess,
) -> None:
    # The first text comes 50 + 20 x 40 = 850 ms after the question, past a 0.5 s first-token deadline,
    # but the model thinks from 50 ms on, every 40 ms: well within a 0.2 s gap.
    model = "sim+reasoning=20+ttft_ms=50+token_ms=40+tokens=5"
    thinking, text = joined(reply_parts(simulator, model, first_token_timeout=0.5, token_gap_timeout=0.2))
    assert thinking == "".join(thinking_tokens(20)) and text == "".join(answer_tokens(5))


def test_a_model_that_refuses_max_tokens_is_asked_with_max_completion_tokens_from_then_on(
    simulator: SimulatorProcess,
) -> None:
    model = f"sim+rejects_max_tokens=1+tokens=30+tag={uuid.uuid4().hex[:8]}"

    async def twice() -> list[str]:
        limited, texts = provider(simulator.openai_base_url), []
        for _ in range(2):
            reply = limited.reply(ChatRequest([Message("user", "hi")], model=model, max_tokens=10))
            texts.append("".join([part async for part in reply]))
            assert reply.completion is not None and reply.completion.finish_reason == "length"
        await limited.aclose()
        return texts

    assert run_async(twice()) == ["".join(answer_tokens(10))] * 2  # the limit held both times
    asked = [(r["limit_param"], r["outcome"]) for r in simulator.requests(model)]
    assert asked == [
        ("max_tokens", "status"),  # refused (400, param max_tokens)
        ("max_completion_tokens", "completed"),  # at once, the same answer
        ("max_completion_tokens", "completed"),  # remembered for the model
    ]
    plain = f"sim+tokens=30+tag={uuid.uuid4().hex[:8]}"
    reply_parts(simulator, plain, max_tokens=10)
    assert [r["limit_param"] for r in simulator.requests(plain)] == ["max_tokens"]  # what every server knows


def test_the_built_in_page_shows_a_reasoning_models_thinking_and_folds_it(
    serve, page: Page, simulator: SimulatorProcess
) -> None:
    model = "sim+reasoning=30+token_ms=20"
    server = serve(
        env={"OPENAI_BASE_URL": simulator.openai_base_url, "OPENAI_API_KEY": "sim", "HYBRID_MODEL": model}
    )
    page.add_init_script(WATCH_CSP)
    page.goto(server.url + "/")
    page.fill("#prompt", "think about it")
    page.press("#prompt", "Enter")
    answer = page.locator(".assistant-message")
    expect(answer.locator(".reasoning")).to_have_attribute("open", "")
    expect(answer.locator(".reasoning summary")).to_have_text("Thinking…")

    expect(answer).to_have_attribute("data-status", "done", timeout=15_000)
    expect(answer.locator(".reasoning")).not_to_have_attribute("open", "")
    expect(answer.locator(".reasoning summary")).to_contain_text("Thought for ")
    assert answer.locator(".message-body").inner_text().startswith("Streaming keeps a chat responsive")
    assert "let me think it through" in (answer.locator(".reasoning-body").text_content() or "")  # folded
    assert page.evaluate("window.cspViolations") == []
