"""The simulator speaks OpenAI's chat API (as the SDK parses it), paces answers and breaks them on demand."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import run_async
from tests.support.simulator_fixture import SimulatorProcess, start_simulator

ANSWER = "".join(answer_tokens(20))
MESSAGES = [{"role": "user", "content": "three words here"}]


def unique(model: str) -> str:
    """`model` with a tag, so the request log and `fail_times` counters are this test's own."""
    return f"{model}+tag={uuid.uuid4().hex[:8]}"


def chat(simulator: SimulatorProcess, model: str, **body: object) -> httpx.Response:
    payload = {"model": model, "messages": MESSAGES, **body}
    return httpx.post(simulator.openai_base_url + "/chat/completions", json=payload, timeout=5)


def data_lines(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def test_the_sdk_parses_streamed_chunks_and_usage(simulator: SimulatorProcess) -> None:
    model = unique("sim")

    async def stream() -> tuple[str, object]:
        async with openai.AsyncOpenAI(api_key="sk-test", base_url=simulator.openai_base_url) as client:
            chunks = await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            text, usage = [], None
            async for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    text.append(chunk.choices[0].delta.content)
                usage = chunk.usage or usage
            return "".join(text), usage

    text, usage = run_async(stream())
    assert text == ANSWER
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (3, 20)  # type: ignore[attr-defined]
    record = simulator.closed(model)
    assert record["outcome"] == "completed" and record["chunks"] == 20
    assert record["auth"] == "bearer" and record["include_usage"] is True
    assert record["started"] < record["first_content"] < record["closed"]


def test_a_non_streaming_answer_takes_as_long_as_streaming_would(simulator: SimulatorProcess) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=simulator.openai_base_url)
    started = time.monotonic()
    completion = client.chat.completions.create(model=unique("sim+token_ms=10"), messages=MESSAGES)
    assert time.monotonic() - started >= 0.02 + 19 * 0.01
    assert completion.choices[0].message.content == ANSWER
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 20


def test_max_tokens_shortens_the_answer_with_finish_reason_length(simulator: SimulatorProcess) -> None:
    payloads = data_lines(chat(simulator, unique("sim"), stream=True, max_tokens=5).text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "".join(answer_tokens(5))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_azure_deployment_urls_need_an_api_version(simulator: SimulatorProcess) -> None:
    deployment = unique("gpt-deploy")
    client = openai.AzureOpenAI(api_key="azure-key", api_version="2024-10-21", azure_endpoint=simulator.url)
    completion = client.chat.completions.create(model=deployment, messages=MESSAGES)
    assert completion.choices[0].message.content == ANSWER
    (record,) = simulator.requests(deployment)
    assert record["path"] == f"/openai/deployments/{deployment}/chat/completions"
    assert record["api_version"] == "2024-10-21" and record["auth"] == "api-key"
    url = f"{simulator.url}/openai/deployments/{deployment}/chat/completions"
    assert httpx.post(url, json={"messages": MESSAGES}).status_code == 404


def test_models_are_listed(simulator: SimulatorProcess) -> None:
    assert httpx.get(simulator.openai_base_url + "/models").json()["data"][0]["id"] == "sim"


def test_ttft_and_tokens_per_chunk_shape_the_stream(simulator: SimulatorProcess) -> None:
    model = unique("sim+ttft_ms=150+token_ms=0+tokens=9+tokens_per_chunk=4")
    payloads = data_lines(chat(simulator, model, stream=True).text)
    contents = [json.loads(p)["choices"][0]["delta"].get("content") for p in payloads[1:-2]]
    assert contents == ["".join(answer_tokens(9)[i : i + 4]) for i in (0, 4, 8)]
    record = simulator.closed(model)
    assert record["first_content"] - record["started"] >= 0.14  # asyncio timers may fire 1 ms early


def test_an_error_status_carries_retry_after_and_an_openai_error_body(simulator: SimulatorProcess) -> None:
    response = chat(simulator, unique("sim+status=429+retry_after=20"), stream=True)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "20"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_the_x_sim_header_sets_directives_too(simulator: SimulatorProcess) -> None:
    response = httpx.post(
        simulator.openai_base_url + "/chat/completions",
        json={"model": unique("sim"), "messages": MESSAGES},
        headers={"X-Sim": "status=503"},
    )
    assert response.status_code == 503


def test_an_unknown_directive_is_a_400_naming_it(simulator: SimulatorProcess) -> None:
    response = chat(simulator, "sim+colour=blue")
    assert response.status_code == 400
    assert "colour=blue" in response.json()["error"]["message"]


def test_fail_times_breaks_only_the_first_requests(simulator: SimulatorProcess) -> None:
    model = unique("sim+status=500+fail_times=2")
    assert [chat(simulator, model).status_code for _ in range(3)] == [500, 500, 200]


def test_a_cut_drops_the_connection_mid_body(simulator: SimulatorProcess) -> None:
    model = unique("sim+cut_after=3")
    received = []
    body = {"model": model, "messages": MESSAGES, "stream": True}
    url = simulator.openai_base_url + "/chat/completions"
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("POST", url, json=body) as response:
        received.extend(response.iter_lines())
    assert sum('"content":"' in line for line in received) == 1 + 3  # the role chunk, then 3 tokens
    assert simulator.closed(model)["outcome"] == "cut"


def test_an_error_event_ends_the_stream(simulator: SimulatorProcess) -> None:
    model = unique("sim+error_after=2")
    payloads = data_lines(chat(simulator, model, stream=True).text)
    assert json.loads(payloads[-1])["error"]["type"] == "server_error"
    assert simulator.closed(model)["outcome"] == "error_event"


def test_a_stalled_stream_records_when_the_client_gives_up(simulator: SimulatorProcess) -> None:
    model = unique("sim+stall_after=2")
    with httpx.stream(
        "POST",
        simulator.openai_base_url + "/chat/completions",
        json={"model": model, "messages": MESSAGES, "stream": True},
    ) as response:
        data = (line for line in response.iter_lines() if line.startswith("data: "))
        for _ in range(1 + 2):  # the role chunk, then 2 tokens: the stream stalls after them
            next(data)
        time.sleep(0.1)
        gave_up = time.time()
    record = simulator.closed(model)
    assert record["outcome"] == "client_closed" and record["chunks"] == 2
    assert 0 <= record["closed"] - gave_up < 0.1


@pytest.mark.server
def test_an_api_key_is_enforced_when_given(tmp_path: Path) -> None:
    guarded = start_simulator(tmp_path / "simulator.log", "--api-key", "right")
    try:
        url = guarded.openai_base_url + "/chat/completions"
        body = {"model": "sim", "messages": MESSAGES}
        assert httpx.post(url, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.post(url, json=body, headers={"api-key": "right"}).status_code == 200
    finally:
        guarded.stop()
