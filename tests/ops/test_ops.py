"""Operations over real servers: /metrics through a stream's life and across workers, JSON logs with the
request id (which also reaches the provider), and /readyz with a reachable and an unreachable provider.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hybrid._settings import reference_table
from hybrid._web.request_id import bind_request_id
from hybrid.dev.servers import free_port
from tests.conftest import ROOT, Server, run_async, signed
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import parse

QUESTION = "What is in the ops logs? ops-prompt-text-never-logged"
BODY = {"messages": [{"role": "user", "content": QUESTION}]}


def scrape(server: Server) -> dict[str, float]:
    """`/metrics` on a fresh connection (any worker may answer)."""
    return _parse(httpx.get(server.url + "/metrics", headers={"Connection": "close"}, timeout=5).text)


def _parse(text: str) -> dict[str, float]:
    """Prometheus text as {'name{label="value",...}': value}."""
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def eventually(server: Server, check: Callable[[dict[str, float]], bool], timeout: float = 3.0) -> dict:
    """The first scrape `check` accepts: observers run as a stream's task ends, just after its last byte."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if check(samples):
            return samples
        if time.monotonic() > deadline:
            raise AssertionError(f"metrics never matched: {samples}")
        time.sleep(0.02)


def open_stream(stack: ExitStack, server: Server, client: str) -> Iterator[str]:
    """Start a chat stream as `client` (its address, through X-Forwarded-For); yield its text as it comes."""
    http = stack.enter_context(httpx.Client(timeout=10))
    response = stack.enter_context(
        http.stream(
            "POST",
            server.url + "/api/stream",
            json=signed(BODY),
            headers={"X-Forwarded-For": client},
        )
    )
    assert response.status_code == 200, response.read()
    return response.iter_text()


def post(server: Server, client: str) -> httpx.Response:
    return httpx.post(
        server.url + "/api/stream", json=signed(BODY), headers={"X-Forwarded-For": client}, timeout=10
    )


def test_metrics_follow_streams_from_start_to_end(serve: Callable[..., Server]) -> None:
    # Two streams at once in all, one per client: enough to meet both limits.
    server = serve(env={"HYBRID_MAX_STREAMS": "2", "HYBRID_CLIENT_STREAMS": "1"})
    assert scrape(server)["hybrid_streams_started_total"] == 0

    with ExitStack() as stack:
        chunks = open_stream(stack, server, "10.0.0.1")
        text = next(chunks)  # the meta event: the stream is open
        samples = scrape(server)
        assert samples["hybrid_streams_started_total"] == 1
        assert samples["hybrid_streams_open"] == 1
        text += "".join(chunks)
    deltas = sum(1 for m in parse(text) if m.event == "message" and m.data != "[DONE]")
    samples = eventually(server, lambda s: s["hybrid_streams_finished_total"] == 1)
    assert samples["hybrid_streams_open"] == 0
    assert samples["hybrid_stream_deltas_total"] == deltas > 100
    assert samples['hybrid_tokens_total{kind="completion"}'] == deltas  # the demo model: a token a delta
    assert samples["hybrid_time_to_first_token_seconds_count"] == 1
    # HYBRID_DEMO_TTFT_MS=50 (less a float rounding: the loop clock is a float of seconds)
    assert 0.05 - 1e-9 <= samples["hybrid_time_to_first_token_seconds_sum"] < 1

    with ExitStack() as stack:
        first = open_stream(stack, server, "10.0.0.1")  # kept: a dropped iterator closes its stream
        next(first)
        assert post(server, "10.0.0.1").status_code == 429  # that client's one stream is open
        second = open_stream(stack, server, "10.0.0.2")
        next(second)
        assert post(server, "10.0.0.3").status_code == 503  # the server's two are
        samples = scrape(server)
        assert samples["hybrid_streams_started_total"] == 3
        assert samples["hybrid_streams_open"] == 2
        assert samples['hybrid_stream_rejections_total{reason="too_many_streams",status="429"}'] == 1
        assert samples['hybrid_stream_rejections_total{reason="server_busy",status="503"}'] == 1
    # Both clients left mid-answer.
    samples = eventually(server, lambda s: s["hybrid_streams_cancelled_total"] == 2)
    assert samples["hybrid_streams_open"] == 0
    assert samples["hybrid_streams_finished_total"] == 1
    assert samples["hybrid_wsgi_threads"] == 8
    assert samples["hybrid_wsgi_threads_busy"] == 0


def test_json_logs_carry_the_request_id_which_reaches_the_provider(
    serve: Callable[..., Server], simulator: SimulatorProcess
) -> None:
    tag = uuid.uuid4().hex[:8]
    model, failing = f"sim+tag={tag}", f"sim+status=503+tag={tag}"
    env = {
        "OPENAI_API_KEY": "sk-ops",
        "OPENAI_BASE_URL": simulator.openai_base_url,
        "HYBRID_MODEL": model,
        "HYBRID_MODELS": failing,
        "HYBRID_PROVIDER_RETRIES": "0",
        "HYBRID_LOG_FORMAT": "json",
        "HYBRID_LOG_LEVEL": "info",
    }
    server = serve(env=env)
    assert httpx.get(server.url + "/readyz", timeout=5).json() == {"status": "ready", "provider": "openai"}

    request_id = f"ops-{tag}"
    response = httpx.post(
        server.url + "/api/stream",
        json=signed({**BODY, "model": model}),
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    assert response.headers["X-Request-ID"] == request_id
    assert simulator.requests(model)[-1]["request_id"] == request_id

    # Without a usable id of the client's, the server makes one up and passes it on the same way.
    response = httpx.post(
        server.url + "/api/stream",
        json=signed({**BODY, "model": failing}),
        headers={"X-Request-ID": "not a sane id"},
        timeout=10,
    )
    made_up = response.headers["X-Request-ID"]
    assert len(made_up) == 32 and made_up != "not a sane id"
    assert simulator.requests(failing)[-1]["request_id"] == made_up

    def ends() -> list[dict]:  # every line is JSON (json.loads would raise), these are stream ends
        lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
        return [line for line in lines if line["logger"] == "hybrid.stream" and "status" in line]

    deadline = time.monotonic() + 3
    while len(ends()) < 2:
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.02)
    assert [(end["request_id"], end["status"]) for end in ends()] == [
        (request_id, "finished"),
        (made_up, "failed"),
    ]
    # The simulator's 20 tokens: deltas that arrive in one read leave as one event, so up to 20 events.
    assert [0 < ends()[0]["deltas"] <= 20, ends()[1]["deltas"]] == [True, 0]
    lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    mine = {line["logger"] for line in lines if line.get("request_id") == made_up}
    # The provider's failure, the stream's end and the access log line all name the failing stream.
    assert {"hybrid.providers.openai", "hybrid.stream", "uvicorn.access"} <= mine
    assert QUESTION not in server.output()

    samples = scrape(server)
    error = 'hybrid_provider_errors_total{provider="openai",status="503",type="provider_unavailable"}'
    assert samples[error] == 1
    assert samples['hybrid_streams_failed_total{reason="provider_unavailable"}'] == 1
    assert samples['hybrid_tokens_total{kind="completion"}'] == 20


def test_readiness_fails_while_the_provider_is_unreachable(serve: Callable[..., Server]) -> None:
    closed = free_port()  # nothing listens there
    env = {
        "OPENAI_API_KEY": "sk-ops",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed}/v1",
        "HYBRID_MODEL": "sim",
        "HYBRID_READY_TIMEOUT_SECONDS": "1",
    }
    server = serve(env=env)
    started = time.monotonic()
    response = httpx.get(server.url + "/readyz", timeout=5)
    assert time.monotonic() - started < 1.5
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["type"] == "not_ready"
    assert error["message"] == "the openai provider did not pass its check (APIConnectionError)"
    assert httpx.get(server.url + "/healthz", timeout=5).status_code == 200  # alive, just not ready


def test_metrics_add_up_over_two_workers(serve: Callable[..., Server]) -> None:
    # `python -m hybrid --workers 2` makes the multiprocess directory itself.
    env = {"HYBRID_DEMO_TTFT_MS": "1500", "HYBRID_DEMO_TOKEN_MS": "1", "HYBRID_CLIENT_STREAMS": "0"}
    command = [sys.executable, "-m", "hybrid", "--workers", "2", "--log-format", "json"]
    server = serve(command=command, env=env)
    deadline = time.monotonic() + 20
    while server.output().count("Application startup complete") < 2:  # else one worker takes all
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    streams = 8

    async def run() -> list[tuple[int, dict[str, float]]]:
        limits = httpx.Limits(max_keepalive_connections=0)  # a connection each
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            opened = asyncio.Queue[None]()

            async def one() -> None:
                async with client.stream("POST", server.url + "/api/stream", json=signed(BODY)) as response:
                    assert response.status_code == 200
                    opened.put_nowait(None)
                    await response.aread()

            tasks = [asyncio.create_task(one()) for _ in range(streams)]
            for _ in range(streams):
                await asyncio.wait_for(opened.get(), 5)
            # Within the 1.5 s before the first token every stream is open. One connection per probe
            # asks one worker for its own count (/healthz), then for the metrics.
            probes = []
            for _ in range(20):
                async with httpx.AsyncClient(timeout=5) as probe:
                    own = (await probe.get(server.url + "/healthz")).json()["streams"]
                    probes.append((own, _parse((await probe.get(server.url + "/metrics")).text)))
                if own < streams:
                    break
            await asyncio.gather(*tasks)
        return probes

    probes = run_async(run())
    for _, samples in probes:  # whichever worker answers counts every stream...
        assert samples["hybrid_streams_open"] == streams
        assert samples["hybrid_streams_started_total"] == streams
        assert samples["hybrid_wsgi_threads"] == 16  # 8 a worker
    assert probes[-1][0] < streams, probes  # ...including one that holds fewer itself
    samples = eventually(server, lambda s: s["hybrid_streams_finished_total"] == streams)
    assert samples["hybrid_streams_open"] == 0


def test_request_ids_and_the_settings_table() -> None:
    for sane in ("3f2a-trace.id_1", "0f8fad5b-d9cb-469f-a165-70867728950e", "x" * 64):
        assert bind_request_id(sane) == sane
    # Only what means nothing in a log line, a JSON log, a header or a URL: anything else gets a fresh id.
    for bad in ("", "has space", "x" * 65, 'quote"', "a:b", "a/b", "a=b", "a;b", "a@b", "a\nb", "é"):
        assert len(bind_request_id(bad)) == 32
    table = reference_table()
    assert "| `HYBRID_SECRET_KEY` | (unset) |" in table and "Secret: never printed" in table
    assert "``" not in table  # no empty code spans


@pytest.mark.server
def test_two_apps_in_one_worker_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two apps of one process write the same files there: each must add to, not overwrite, the other."""
    script = """
import asyncio
import hybrid
from hybrid._streams.hooks import StreamOutcome

first, second = (hybrid.create_app(settings=hybrid.Settings(secret_key="k")) for _ in range(2))
done = StreamOutcome(status="finished", error=None, deltas=3, first_delta_seconds=0.1, duration_seconds=1.0)
for app in (first, second, first):
    app.streams.hooks.opened()
    app.streams.hooks.closed(done)

class Request:
    pass

print((asyncio.run(first.metrics.endpoint(Request()))).body.decode())
"""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    samples = _parse(result.stdout)
    assert samples["hybrid_streams_started_total"] == 3
    assert samples["hybrid_streams_finished_total"] == 3
    assert samples["hybrid_stream_deltas_total"] == 9
