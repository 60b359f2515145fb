"""The openai and azure providers over real HTTP: the full server (uvicorn) in front of the simulator.

What the user sees is read with `tests.support.sse_client.answer`, what went upstream from the simulator's
log.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import httpx2
import openai
import pytest

from hybrid._errors import StreamError
from hybrid._providers.base import ChatRequest, Completion, Message, Usage
from hybrid._providers.openai.provider import OpenAIProvider, sdk_options
from hybrid._providers.openai.upstream import body_reader
from hybrid._providers.select import provider_from_settings
from hybrid._settings import Settings, SettingsError
from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import ROOT, Server, run_async, signed, start_server
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import answer, parse

pytestmark = pytest.mark.server

ANSWER = "".join(answer_tokens(20))
QUESTION = "What does the simulator say? unmistakable-prompt-text"
API_KEY = "sk-test-do-not-log-me"
TAG = uuid.uuid4().hex[:6]
"""Makes this run's fault counters (`fail_times`) and log entries its own."""

FIRST_TOKEN_TIMEOUT, GAP_TIMEOUT = 1.0, 0.5
TIMEOUTS = {
    "HYBRID_FIRST_TOKEN_TIMEOUT_SECONDS": str(FIRST_TOKEN_TIMEOUT),
    "HYBRID_TOKEN_GAP_TIMEOUT_SECONDS": str(GAP_TIMEOUT),
}


def notice(reason: str) -> str:
    return f"\n\n**⚠ The answer stopped: {reason}.**"


# Each fault, the text the user keeps, the sentence they read, and how many requests went upstream.
FAULTS = {
    f"sim+status=400+tag={TAG}": ("", "the model provider rejected the request (400)", 1),
    f"sim+status=401+tag={TAG}": ("", "the model provider did not accept the server's API key (401)", 1),
    f"sim+status=403+tag={TAG}": ("", f"the server may not use the model sim+status=403+tag={TAG} (403)", 1),
    f"sim+status=404+tag={TAG}": (
        "",
        f"the model provider has no model named sim+status=404+tag={TAG} (404)",
        1,
    ),
    f"sim+status=429+retry_after=20+tag={TAG}": ("", "the provider is rate limiting; retry in 20 s", 1),
    # 5xx is retried with backoff (0.5 s, then 1 s) while the 1 s first-token deadline allows: once.
    f"sim+status=503+tag={TAG}": ("", "the model provider is having trouble (503); retry in a moment", 2),
    f"sim+cut_after=3+tag={TAG}": (
        "".join(answer_tokens(3)),
        "the connection to the model provider broke mid-answer",
        1,
    ),
    f"sim+error_after=2+tag={TAG}": (
        "".join(answer_tokens(2)),
        "the model provider reported an error while answering",
        1,
    ),
    f"sim+stall_after=4+tag={TAG}": (
        "".join(answer_tokens(4)),
        f"the model went silent for {GAP_TIMEOUT:g} s",
        1,
    ),
    f"sim+stall_after=0+tag={TAG}": (
        "",
        f"the model did not start answering within {FIRST_TOKEN_TIMEOUT:g} s",
        1,
    ),
}
LONG = f"sim+tokens=5000+token_ms=5+tag={TAG}"
MANY = f"sim+tokens=60+token_ms=3+tag={TAG}"
TOGETHER = f"sim+tokens=300+token_ms=0+tag={TAG}"  # sent back to back: many arrive in one read
RETRIED = {
    f"sim+status=503+fail_times=1+tag={TAG}": 2,
    f"sim+status=429+retry_after=0.2+fail_times=1+tag={TAG}": 2,
    f"sim+cut_after=0+fail_times=1+tag={TAG}": 2,
}


@pytest.fixture(scope="module")
def openai_server(simulator: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app, with the openai provider chosen by `OPENAI_API_KEY` and pointed at the simulator."""
    env = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": simulator.openai_base_url,
        "HYBRID_MODEL": "sim",
        "HYBRID_MODELS": ",".join([*FAULTS, *RETRIED, LONG, MANY, TOGETHER]),
        "HYBRID_LOG_LEVEL": "info",
        "HYBRID_CLIENT_STREAMS": "0",  # one test opens many streams from one client
        "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
        **TIMEOUTS,
    }
    server = start_server(env=env, log=tmp_path_factory.mktemp("openai") / "server.log")
    yield server
    server.stop()


def chat_body(model: str) -> dict[str, str]:
    """The body the chat page posts to `/api/stream` for one question to `model`: a signed ticket."""
    return signed({"model": model, "messages": [{"role": "user", "content": QUESTION}]})


def ask(server: Server, model: str) -> str:
    response = httpx.post(server.url + "/api/stream", json=chat_body(model), timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def test_openai_answers_stream_through_the_server_with_usage(
    openai_server: Server, simulator: SimulatorProcess
) -> None:
    stream = ask(openai_server, "sim")
    assert answer(stream) == (ANSWER, True)
    (completion,) = [json.loads(m.data) for m in parse(stream) if m.event == "completion"]
    assert completion == {
        "model": "sim",
        "finish_reason": "stop",
        "prompt_tokens": len(QUESTION.split()),
        "completion_tokens": 20,
    }
    record = simulator.requests("sim")[-1]
    assert record["path"] == "/v1/chat/completions"
    assert record["auth"] == "bearer" and record["include_usage"] is True


@pytest.mark.parametrize("model", FAULTS)
def test_each_fault_tells_the_user_what_happened(
    openai_server: Server, simulator: SimulatorProcess, model: str
) -> None:
    kept, reason, requests = FAULTS[model]
    assert answer(ask(openai_server, model)) == (kept + notice(reason), True)
    assert len(simulator.requests(model)) == requests


@pytest.mark.parametrize("model", RETRIED)
def test_failures_before_the_first_token_are_retried_without_duplicating_text(
    openai_server: Server, simulator: SimulatorProcess, model: str
) -> None:
    assert answer(ask(openai_server, model)) == (ANSWER, True)
    assert len(simulator.requests(model)) == RETRIED[model]


def test_closing_the_stream_closes_the_upstream_request_within_100_ms(
    openai_server: Server, simulator: SimulatorProcess
) -> None:
    url = openai_server.url + "/api/stream"
    with httpx.Client(timeout=10) as client, client.stream("POST", url, json=chat_body(LONG)) as response:
        data = (line for line in response.iter_lines() if line.startswith("data: "))
        for _ in range(5):  # the meta event, then text deltas: the upstream stream is flowing
            next(data)
        closed_by_client = time.time()
    record = simulator.closed(LONG)
    assert record["outcome"] == "client_closed"
    assert record["closed"] - closed_by_client < 0.1
    assert record["chunks"] < 5000


def test_logs_explain_failures_without_keys_or_prompts(openai_server: Server) -> None:
    ask(openai_server, f"sim+status=429+retry_after=20+tag={TAG}")
    log = openai_server.output()
    assert re.search(r"openai sim\+status=429\S* attempt 1 failed: provider_rate_limited \[status=429", log)
    assert API_KEY not in log
    assert "unmistakable-prompt-text" not in log


def test_azure_requests_use_deployment_urls_and_the_api_key_header(
    serve: object, simulator: SimulatorProcess
) -> None:
    deployment = f"chat-deployment+tag={TAG}"
    env = {
        "AZURE_OPENAI_ENDPOINT": simulator.url,
        "AZURE_OPENAI_API_KEY": "azure-key",
        "OPENAI_API_VERSION": "2024-10-21",
        "HYBRID_MODEL": deployment,
    }
    server = serve(env=env)  # type: ignore[operator]
    assert answer(ask(server, deployment)) == (ANSWER, True)
    (record,) = simulator.requests(deployment)
    assert record["path"] == f"/openai/deployments/{deployment}/chat/completions"
    assert record["api_version"] == "2024-10-21"
    assert record["auth"] == "api-key"


def test_many_concurrent_answers_arrive_whole_and_in_order(openai_server: Server) -> None:
    """Fidelity through the aiohttp transport: every token of every answer, once, in order."""
    expected = "".join(answer_tokens(60))

    async def run() -> list[str]:
        limits = httpx.Limits(max_connections=120)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def one() -> str:
                response = await client.post(openai_server.url + "/api/stream", json=chat_body(MANY))
                return response.text

            return await asyncio.gather(*(one() for _ in range(120)))

    streams = run_async(run())
    assert [answer(stream) for stream in streams] == [(expected, True)] * len(streams)


def test_deltas_that_arrive_together_leave_as_one_event(openai_server: Server) -> None:
    stream = ask(openai_server, TOGETHER)
    assert answer(stream) == ("".join(answer_tokens(300)), True)
    texts = [m for m in parse(stream) if m.event == "message" and m.data != "[DONE]"]
    assert len(texts) < 300


# The provider on its own: what a developer's stream route gets from `provider.reply(...)`.


def test_answers_are_read_straight_from_aiohttp(simulator: SimulatorProcess) -> None:
    """The fast path depends on how the SDK wraps aiohttp: an SDK that changes it must fail here."""

    async def run() -> object:
        client = openai.AsyncOpenAI(
            api_key=API_KEY, base_url=simulator.openai_base_url, **sdk_options(**TIMEOUTS_S)
        )
        body = {"model": "sim", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
        async with client:
            response = await client.post("/chat/completions", cast_to=httpx2.Response, body=body, stream=True)
            read = body_reader(response)
            await response.aclose()
        return getattr(read, "__self__", None)

    assert isinstance(run_async(run()), aiohttp.StreamReader)


TIMEOUTS_S = {"connect_timeout": 5.0, "first_token_timeout": 2.0, "token_gap_timeout": 1.0}


def provider(base_url: str, **kwargs: float) -> OpenAIProvider:
    timeouts = {**TIMEOUTS_S, **kwargs}
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=base_url, **sdk_options(**timeouts))
    return OpenAIProvider(
        client,
        models=["sim"],
        first_token_timeout=timeouts["first_token_timeout"],
        token_gap_timeout=timeouts["token_gap_timeout"],
    )


def request(model: str) -> ChatRequest:
    return ChatRequest(messages=[Message("user", QUESTION)], model=model)


@pytest.mark.parametrize("stop", ["aclose", "cancel"])
def test_stopping_a_reply_closes_the_upstream_request_within_100_ms(
    simulator: SimulatorProcess, stop: str
) -> None:
    model = f"sim+tokens=5000+token_ms=5+tag={uuid.uuid4().hex[:8]}"

    async def run() -> float:
        reply = provider(simulator.openai_base_url).reply(request(model))
        if stop == "aclose":
            async for _ in reply:
                break
            stopped = time.time()
            await reply.aclose()
            return stopped
        received = asyncio.Event()

        async def consume() -> None:
            async for _ in reply:
                received.set()

        task = asyncio.create_task(consume())
        await received.wait()
        stopped = time.time()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return stopped

    stopped = run_async(run())
    record = simulator.closed(model)
    assert record["outcome"] == "client_closed"
    assert record["closed"] - stopped < 0.1


def test_the_completion_record_carries_usage_and_the_finish_reason(simulator: SimulatorProcess) -> None:
    async def run() -> tuple[str, object]:
        reply = provider(simulator.openai_base_url).reply(request("sim"))
        return "".join([delta async for delta in reply]), reply.completion

    text, completion = run_async(run())
    assert text == ANSWER
    assert completion == Completion(
        "sim", "stop", Usage(prompt_tokens=len(QUESTION.split()), completion_tokens=20)
    )


def failure_of(base_url: str, model: str = "sim", **timeouts: float) -> tuple[str, float]:
    """The StreamError a reply ends with, and how long it took."""

    async def run() -> str:
        with pytest.raises(StreamError) as raised:
            async for _ in provider(base_url, **timeouts).reply(request(model)):
                pass
        return raised.value.message

    started = time.monotonic()
    message = run_async(run())
    return message, time.monotonic() - started


def test_an_unreachable_provider_is_retried_then_reported() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    message, seconds = failure_of(f"http://127.0.0.1:{port}/v1")
    assert message == "could not reach the model provider"
    assert 0.4 < seconds < 2.0  # two retries: about 0.5 s, then 1 s, with jitter


def test_a_connect_timeout_is_reported() -> None:
    with socket.socket() as full:  # a listener whose accept queue is full ignores new connections
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = fill_accept_queue(full.getsockname())
        try:
            url = f"http://127.0.0.1:{full.getsockname()[1]}/v1"
            message, seconds = failure_of(url, connect_timeout=0.2, first_token_timeout=1.0)
        finally:
            for filler in fillers:
                filler.close()
    assert message == "could not connect to the model provider in time"
    assert seconds < 1.5


def fill_accept_queue(address: tuple[str, int]) -> list[socket.socket]:
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.settimeout(0.2)
        fillers.append(filler)
        try:
            filler.connect(address)
        except TimeoutError:
            return fillers
    raise AssertionError("the accept queue never filled")


# Selection and start-up errors.


@pytest.mark.parametrize(
    ("environ", "name"),
    [
        ({}, "demo"),
        ({"OPENAI_API_KEY": "sk", "HYBRID_MODEL": "m"}, "openai"),
        (
            {
                "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
                "AZURE_OPENAI_API_KEY": "k",
                "OPENAI_API_VERSION": "2024-10-21",
                "HYBRID_MODEL": "d",
            },
            "azure",
        ),
        ({"OPENAI_API_KEY": "sk", "HYBRID_PROVIDER": "demo"}, "demo"),
    ],
)
def test_the_environment_chooses_the_provider(environ: dict[str, str], name: str) -> None:
    assert provider_from_settings(Settings.from_env(environ)).name == name


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OPENAI_API_KEY": "sk"},
            "the openai provider (chosen because OPENAI_API_KEY is set) needs HYBRID_MODEL",
        ),
        ({"HYBRID_PROVIDER": "openai", "HYBRID_MODEL": "m"}, "needs OPENAI_API_KEY"),
        (
            {"HYBRID_PROVIDER": "azure", "HYBRID_MODEL": "d", "OPENAI_API_VERSION": "2024-10-21"},
            "the azure provider (HYBRID_PROVIDER=azure) needs AZURE_OPENAI_ENDPOINT",
        ),
        (
            {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "HYBRID_MODEL": "d"},
            "needs OPENAI_API_VERSION",
        ),
        (
            {
                "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
                "HYBRID_MODEL": "d",
                "OPENAI_API_VERSION": "2024-10-21",
            },
            "AZURE_OPENAI_API_KEY",
        ),
        (
            {"HYBRID_PROVIDER": "anthropic"},
            "HYBRID_PROVIDER must be one of demo, openai, azure, got 'anthropic'",
        ),
    ],
)
def test_a_misconfigured_provider_names_what_is_missing(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        provider_from_settings(Settings.from_env(environ))


def test_the_server_refuses_to_start_without_the_azure_endpoint(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import hybrid.main"],
        env={
            "HYBRID_PROVIDER": "azure",
            "HYBRID_MODEL": "d",
            "OPENAI_API_VERSION": "2024-10-21",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode != 0
    assert "the azure provider (HYBRID_PROVIDER=azure) needs AZURE_OPENAI_ENDPOINT" in result.stderr
