"""Resumable answers over real HTTP: drops, Stop, the grace, Redis across two workers, restarts, faults."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hybrid._stores.redis.follower import STORE_LOST
from hybrid._wire.sse import notice
from hybrid.dev.simulator.scenario import answer_tokens
from tests.conftest import Server, signed
from tests.support.redis_fixture import RedisProcess, start_redis
from tests.support.resume_client import QUESTION, AnswerStream, resume, text_of, worker_serving
from tests.support.simulator_fixture import SimulatorProcess
from tests.support.sse_client import parse

GRACE = "3"
TWO_WORKERS = [sys.executable, "-m", "hybrid", "--workers", "2"]
TOKENS = 80


@dataclass
class Upstream:
    """A model of the simulator that one test alone asks for, so its upstream requests can be counted."""

    simulator: SimulatorProcess
    model: str

    @property
    def env(self) -> dict[str, str]:
        """A server answering with the openai provider from this model."""
        return {
            "HYBRID_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": self.simulator.openai_base_url,
            "HYBRID_MODEL": self.model,
        }

    def requests(self) -> list[dict[str, object]]:
        return self.simulator.requests(self.model)


@pytest.fixture
def upstream(simulator: SimulatorProcess) -> Upstream:
    """80 tokens, 10 ms apart: still generating while a test drops, freezes or stops a worker."""
    return Upstream(simulator, f"sim+tokens={TOKENS}+token_ms=10+tag={uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def whole_answer() -> str:
    return "".join(answer_tokens(TOKENS))


def resumed_text(
    stream: AnswerStream, response: httpx.Response, after: int | None = None
) -> tuple[str, bool]:
    """What the client shows: the text it got before the drop (up to event `after`), then the rest."""
    assert response.status_code == 200, response.text
    kept = [m for m in stream.messages[1:] if m.id and (after is None or int(m.id) <= after)]
    return text_of(kept + parse(response.text))


def test_a_dropped_answer_resumes_on_the_same_worker_with_nothing_lost_or_repeated(
    serve: Callable[..., Server], upstream: Upstream, whole_answer: str
) -> None:
    server = serve(env={**upstream.env, "HYBRID_RESUME_GRACE_SECONDS": GRACE})
    stream = AnswerStream(server.url).read_events(20)
    stream.drop()
    time.sleep(0.3)  # the answer goes on meanwhile
    response = resume(server.url, stream.head, stream.last_id)
    assert resumed_text(stream, response) == (whole_answer, True)
    assert all(
        line.startswith(("id: ", "data: ", "event: ", ": ")) or not line for line in response.text.split("\n")
    )
    # Resuming after the end: nothing is left, and the client is told so.
    assert resume(server.url, stream.head, int(parse(response.text)[-1].id)).status_code == 204
    assert len(upstream.requests()) == 1  # the model was asked once: the rest came from the buffer


@pytest.fixture(scope="module")
def simulated(simulator: SimulatorProcess, tmp_path_factory: pytest.TempPathFactory) -> Server:
    from tests.conftest import start_server

    model = f"sim+tokens=5000+token_ms=5+tag={uuid.uuid4().hex[:6]}"
    env = {
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": simulator.openai_base_url,
        "HYBRID_MODEL": model,
        "HYBRID_RESUME_GRACE_SECONDS": "1",
    }
    server = start_server(env=env, log=tmp_path_factory.mktemp("simulated") / "server.log")
    server.model = model  # type: ignore[attr-defined]
    yield server  # type: ignore[misc]
    server.stop()


def simulated_answer(server: Server) -> AnswerStream:
    """A long answer from the simulator, streaming (its request is the last in the simulator's log)."""
    body = signed({"model": server.model, "messages": [{"role": "user", "content": "long"}]})  # type: ignore[attr-defined]
    return AnswerStream(server.url, body).read_events(5)


def test_stop_closes_the_upstream_request_within_100_ms(
    simulated: Server, simulator: SimulatorProcess
) -> None:
    stream = simulated_answer(simulated)
    head, token = stream.head, {"Hybrid-Resume-Token": stream.head["token"]}
    with httpx.Client(base_url=simulated.url, timeout=5) as page:  # the page's kept-alive connection
        page.get("/healthz")
        stopped_at = time.time()
        assert page.delete(head["url"], headers=token).status_code == 204
        record = simulator.closed(simulated.model)  # type: ignore[attr-defined]
        stream.drop()
        assert record["outcome"] == "client_closed"
        assert record["closed"] - stopped_at < 0.1
        wrong = page.delete(head["url"], headers={"Hybrid-Resume-Token": "nope"})
        assert (wrong.status_code, wrong.json()["error"]["type"]) == (403, "invalid_resume_token")


def metric(server: Server, name: str) -> float:
    for line in httpx.get(server.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_tab_that_never_returns_costs_at_most_the_grace(
    simulated: Server, simulator: SimulatorProcess
) -> None:
    stream = simulated_answer(simulated)
    dropped_at = time.time()
    stream.drop()
    time.sleep(0.5)
    assert simulator.requests(simulated.model)[-1]["closed"] is None  # type: ignore[attr-defined]
    record = simulator.closed(simulated.model, timeout=3)  # type: ignore[attr-defined]
    assert 1.0 <= record["closed"] - dropped_at < 1.3  # the grace of 1 s
    deadline = time.monotonic() + 3
    while metric(simulated, "hybrid_answers_buffered") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert metric(simulated, "hybrid_answers_buffered") == 0  # abandoned: forgotten at once
    assert metric(simulated, 'hybrid_answers_stopped_total{reason="abandoned"}') >= 1
    assert httpx.get(simulated.url + "/healthz").json()["streams"] == 0


def shared(redis: RedisProcess, **env: str) -> dict[str, str]:
    return {"HYBRID_REDIS_URL": redis.url, "HYBRID_RESUME_GRACE_SECONDS": GRACE, **env}


def test_a_resume_is_served_by_the_other_worker_through_redis(
    serve: Callable[..., Server], redis_server: RedisProcess, upstream: Upstream, whole_answer: str
) -> None:
    server = serve(command=TWO_WORKERS, env=shared(redis_server, **upstream.env))
    stream = AnswerStream(server.url).read_events(15)
    generating = worker_serving(server.process.pid, stream.client_port)
    time.sleep(0.05)  # the generating worker writes to Redis every 10 ms
    os.kill(generating, signal.SIGSTOP)  # it cannot accept: the resume lands on the other worker
    after = stream.last_id - 3  # so that there is something to replay while it is frozen
    try:
        stream.drop()
        with httpx.Client(timeout=30) as client:
            sent = {"Hybrid-Resume-Token": stream.head["token"], "Last-Event-ID": str(after)}
            with client.stream("GET", server.url + stream.head["url"], headers=sent) as response:
                chunks = response.iter_raw()
                first = next(chunks)  # replayed from Redis while the generating worker is frozen
                os.kill(generating, signal.SIGCONT)  # ... then followed live as it generates on
                body = (first + b"".join(chunks)).decode()
    finally:
        os.kill(generating, signal.SIGCONT)
    assert resumed_text(stream, httpx.Response(200, text=body), after) == (whole_answer, True)
    assert metric(server, 'hybrid_resumes_total{outcome="shared"}') == 1
    assert len(upstream.requests()) == 1  # the other worker read Redis; it never asked the model again


def test_sigterm_to_the_generating_worker_mid_answer_and_the_answer_completes_through_another(
    serve: Callable[..., Server], redis_server: RedisProcess, upstream: Upstream, whole_answer: str
) -> None:
    server = serve(command=TWO_WORKERS, env=shared(redis_server, **upstream.env))
    stream = AnswerStream(server.url).read_events(15)
    os.kill(worker_serving(server.process.pid, stream.client_port), signal.SIGTERM)
    stream.read_to_end()
    assert stream.messages[-1].event == "reconnect"  # the server said so, and closed the stream
    assert b"retry: 500\n" in stream.raw
    stream.drop()
    time.sleep(0.5)  # as the `retry:` field asks
    response = resume(server.url, stream.head, stream.last_id)
    assert resumed_text(stream, response) == (whole_answer, True)
    assert len(upstream.requests()) == 1  # generated to its end by the stopping worker, once


def test_redis_lost_mid_answer_the_live_reader_completes_and_a_resume_gets_a_clear_error(
    serve: Callable[..., Server], tmp_path: Path, upstream: Upstream, whole_answer: str
) -> None:
    redis = start_redis(tmp_path / "redis.log")
    server = serve(env=shared(redis, **upstream.env))
    try:
        stream = AnswerStream(server.url).read_events(10)
        redis.stop()  # killed mid-answer
        stream.read_to_end()
        assert text_of(stream.messages) == (whole_answer, True)  # the live reader never noticed
        other = AnswerStream(server.url).read_events(5)  # a new answer is served, resumable here only
        other.drop()
        lookup = resume(server.url, {"url": "/api/stream/" + "A" * 22, "token": "t"}, 0, retries=0)
        assert (lookup.status_code, lookup.json()["error"]["type"]) == (503, "answer_store_unavailable")
        assert resumed_text(other, resume(server.url, other.head, other.last_id))[1]
    finally:
        redis.stop()


def test_tickets_limits_and_stop_hold_across_two_workers(
    serve: Callable[..., Server], redis_server: RedisProcess
) -> None:
    server = serve(command=TWO_WORKERS, env=shared(redis_server, HYBRID_CLIENT_STREAMS="2"))
    ticket = signed(QUESTION)
    first = AnswerStream(server.url, ticket).read_events(1)
    generating = worker_serving(server.process.pid, first.client_port)
    os.kill(generating, signal.SIGSTOP)  # from now on, requests land on the other worker
    try:
        replay = httpx.post(server.url + "/api/stream", json=ticket, timeout=10)
        assert (replay.status_code, replay.json()["error"]["type"]) == (403, "ticket_used")
        second = AnswerStream(server.url).read_events(1)  # this client's second stream: within its limit
        third = httpx.post(server.url + "/api/stream", json=signed(QUESTION), timeout=10)
        assert (third.status_code, third.json()["error"]["type"]) == (429, "too_many_streams")
        assert worker_serving(server.process.pid, second.client_port) != generating
        second.drop()
        # A Stop that reaches the other worker travels to the generating one through Redis.
        stop = httpx.delete(
            server.url + first.head["url"], headers={"Hybrid-Resume-Token": first.head["token"]}
        )
        assert stop.status_code == 204
    finally:
        os.kill(generating, signal.SIGCONT)
    first.read_to_end()
    assert [m.event for m in first.messages[-2:]] == ["stopped", "message"]
    assert text_of(first.messages)[1]  # [DONE]
    first.drop()


def test_a_clients_rate_limit_holds_across_two_workers_with_redis(
    serve: Callable[..., Server], redis_server: RedisProcess
) -> None:
    # 5 a minute: bursts of one, the next a 12 s later. A database of its own: a bucket nobody else fills.
    env = {"HYBRID_REDIS_URL": redis_server.url_of(6), "HYBRID_CLIENT_RATE_PER_MINUTE": "5"}
    server = serve(command=TWO_WORKERS, env=env)
    first = AnswerStream(server.url).read_events(1)
    assert first.response.status_code == 200
    generating = worker_serving(server.process.pid, first.client_port)
    os.kill(generating, signal.SIGSTOP)  # from now on, requests land on the other worker
    try:
        second = httpx.post(server.url + "/api/stream", json=signed(QUESTION), timeout=10)
    finally:
        os.kill(generating, signal.SIGCONT)
    first.drop()
    # Counted per process, the other worker would have had a bucket of its own, and a token in it.
    assert second.status_code == 429, second.text[:200]
    assert second.json()["error"]["type"] == "rate_limited"
    assert 1 <= int(second.headers["retry-after"]) <= 12


def test_the_resume_metrics_count_each_outcome_and_the_buffer_size(serve: Callable[..., Server]) -> None:
    server = serve(env={"HYBRID_RESUME_GRACE_SECONDS": GRACE})
    stream = AnswerStream(server.url).read_events(10)
    stream.drop()
    response = resume(server.url, stream.head, stream.last_id)  # served from this worker's memory
    assert response.status_code == 200
    assert resume(server.url, stream.head, int(parse(response.text)[-1].id)).status_code == 204
    wrong = httpx.get(server.url + stream.head["url"], headers={"Hybrid-Resume-Token": "nope"})
    assert wrong.status_code == 403
    stopped = AnswerStream(server.url).read_events(1)
    token = {"Hybrid-Resume-Token": stopped.head["token"]}
    assert httpx.delete(server.url + stopped.head["url"], headers=token).status_code == 204
    stopped.read_to_end()
    stopped.drop()
    # The first answer's frames: those the client got before the drop (after the `answer` event, to the
    # end of the last whole event), and the resume's.
    before = stream.raw[: stream.raw.rindex(b"\n\n") + 2]
    frames = len(before) - len(before.split(b"\n\n", 1)[0]) - 2 + len(response.content)
    deadline = time.monotonic() + 5
    while metric(server, "hybrid_answer_buffer_bytes_count") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {
        outcome: metric(server, f'hybrid_resumes_total{{outcome="{outcome}"}}')
        for outcome in ("local", "gone", "refused", "shared", "unavailable", "shutting_down")
    } == {"local": 1, "gone": 1, "refused": 1, "shared": 0, "unavailable": 0, "shutting_down": 0}
    assert metric(server, 'hybrid_answers_stopped_total{reason="stopped"}') == 1
    assert metric(server, "hybrid_answers_buffered") == 2  # both kept for resumes, for the grace
    assert metric(server, "hybrid_answer_buffer_bytes_count") == 2
    # The stopped answer's frames were fewer than the whole one's, and more than nothing.
    assert frames < metric(server, "hybrid_answer_buffer_bytes_sum") < 2 * frames
    assert metric(server, 'hybrid_answer_buffer_bytes_bucket{le="16384.0"}') == 2, frames


def test_redis_lost_while_another_worker_serves_a_resume_ends_it_with_a_visible_notice(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    redis = start_redis(tmp_path / "redis.log")
    server = serve(command=TWO_WORKERS, env=shared(redis, HYBRID_DEMO_TOKEN_MS="50"))
    try:
        stream = AnswerStream(server.url).read_events(5)
        generating = worker_serving(server.process.pid, stream.client_port)
        time.sleep(0.05)  # the generating worker writes to Redis every 10 ms
        os.kill(generating, signal.SIGSTOP)  # the resume lands on the other worker, which reads Redis
        try:
            stream.drop()
            sent = {"Hybrid-Resume-Token": stream.head["token"], "Last-Event-ID": str(stream.last_id - 2)}
            with httpx.stream("GET", server.url + stream.head["url"], headers=sent, timeout=30) as response:
                chunks = response.iter_raw()
                body = next(chunks)  # replayed from Redis
                redis.stop()  # ... and then Redis is gone
                body += b"".join(chunks)
        finally:
            os.kill(generating, signal.SIGCONT)
    finally:
        redis.stop()
    messages = parse(body.decode())
    errors = [json.loads(m.data) for m in messages if m.event == "error"]
    assert [error["type"] for error in errors] == ["answer_store_unavailable"]
    text, done = text_of(messages)
    assert done, "the resume was cut without its [DONE]"
    assert text.endswith(notice(STORE_LOST))
