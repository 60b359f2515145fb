"""Soak: resumable answers dropped and resumed at random, on two workers sharing Redis, leave nothing behind.

Every answer must arrive whole (no text lost or repeated) however often it was cut; afterwards no answer
is buffered in any worker, no answer key is left in Redis, Redis holds no more connections than before,
no worker's event loop runs a task beyond an idle worker's, and the workers' memory is back within
10 %. `make test` runs it small; `make soak` at 300 answers a round.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from hybrid._stores.redis.connection import POOL_CONNECTIONS
from tests.conftest import Server, run_async, signed
from tests.streams.test_soak import rss_kib
from tests.support.redis_fixture import RedisProcess
from tests.support.resume_client import QUESTION, RESUMABLE, demo_answer, text_of
from tests.support.sse_client import Message, parse

pytestmark = pytest.mark.soak

ANSWERS = int(os.environ.get("HYBRID_SOAK_RESUMES", "40"))
ROUNDS = 3
ABANDON_SHARE = 0.1
GRACE = max(3.0, ANSWERS / 60)
"""Long enough for every client to come back under this load (a later resume finds the answer gone)."""
DB = 5
"""A Redis database of its own: what the test counts there is this server's only."""


async def read_some(response: httpx.Response, messages: list[Message], cut: int | None) -> bool:
    """Read events into `messages` until `[DONE]` (True) or, with `cut`, after that many (False)."""
    raw = b""
    async for chunk in response.aiter_raw():
        raw += chunk
        got = parse(raw.decode(errors="ignore"))
        if any(m.data == "[DONE]" for m in got):
            messages.extend(got)
            return True
        if cut is not None and len(got) >= cut:
            messages.extend(got)
            return False
    messages.extend(parse(raw.decode(errors="ignore")))
    return False


async def one_answer(client: httpx.AsyncClient, abandon: bool) -> str:
    """Ask, then drop and resume at random until the answer is whole; the text, or `abandoned`."""
    messages: list[Message] = []
    async with client.stream("POST", "/api/stream", json=signed(QUESTION), headers=RESUMABLE) as response:
        assert response.status_code == 200
        done = await read_some(response, messages, random.randint(1, 80))
    head = json.loads(messages[0].data)
    if abandon:
        return "abandoned"
    while not done:
        last = next((int(m.id) for m in reversed(messages) if m.id), 0)
        headers = {"Hybrid-Resume-Token": head["token"], "Last-Event-ID": str(last)}
        cut = random.choice([None, random.randint(1, 60)])
        async with client.stream("GET", head["url"], headers=headers) as response:
            assert response.status_code == 200, await response.aread()
            done = await read_some(response, messages, cut)
    return text_of([m for m in messages if m.event != "answer"])[0]


async def soak_round(server: Server) -> list[str]:
    limits = httpx.Limits(max_connections=ANSWERS * 2 + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        plan = [index < ANSWERS * ABANDON_SHARE for index in range(ANSWERS)]
        random.shuffle(plan)
        return await asyncio.gather(*(one_answer(client, abandon) for abandon in plan))


def workers(server: Server) -> list[int]:
    return [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if _parent(stat) == server.process.pid and "spawn_main" in _cmdline(stat.parent)
    ]


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_text()
    except OSError:
        return ""


def tasks_per_worker(server: Server) -> dict[int, list[str]]:
    """The tasks in each worker's event loop, by coroutine (`tests.apps.counted`): asked of one worker at
    a time while the others are frozen, so that it is the one that answers."""
    pids = workers(server)
    counts = {}
    for pid in pids:
        others = [other for other in pids if other != pid]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            reply = httpx.get(server.url + "/_tasks", timeout=5).json()
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)
        assert reply["pid"] == pid
        counts[pid] = reply["tasks"]
    return counts


def left_behind(tasks: dict[int, list[str]], idle: set[str]) -> dict[int, list[str]]:
    """Per worker, the tasks beyond an idle worker's: another coroutine, or a second one of the same."""
    return {
        pid: [name for name, count in Counter(names).items() for _ in range(count - (name in idle))]
        for pid, names in tasks.items()
    }


def tasks_settled(server: Server, idle: set[str]) -> dict[int, list[str]]:
    """The tasks each worker holds beyond the `idle` ones, once there are none (the last ones may still be
    ending) or the wait is over."""
    deadline = time.monotonic() + 5
    while True:
        extra = left_behind(tasks_per_worker(server), idle)
        if not any(extra.values()) or time.monotonic() > deadline:
            return extra
        time.sleep(0.1)


def settled(server: Server, redis: RedisProcess) -> tuple[float, int, int, int]:
    """Answers buffered in the workers, answer keys in Redis, and hybrid's Redis connections (pooled,
    and of resumes), once the answers are gone or the wait is over."""
    deadline = time.monotonic() + GRACE + 10
    while True:
        metrics = httpx.get(server.url + "/metrics", timeout=5).text
        buffered = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("hybrid_answers_buffered ")
        )
        keys = sum(1 for _ in redis.client(DB).scan_iter("hybrid:answer:*"))
        names = [client["name"] for client in redis.client(DB).client_list() if client["db"] == str(DB)]
        if (buffered == 0 and keys == 0) or time.monotonic() > deadline:
            return buffered, keys, names.count("hybrid"), names.count("hybrid-tail")
        time.sleep(0.1)


def test_random_drops_and_resumes_across_two_workers_lose_nothing_and_leave_nothing(
    serve: Callable[..., Server], redis_server: RedisProcess, tmp_path: Path
) -> None:
    whole_answer_text = demo_answer()
    (tmp_path / "metrics").mkdir()
    server = serve(
        "tests.apps.counted:app",
        args=("--workers", "2"),
        env={
            "HYBRID_REDIS_URL": redis_server.url_of(DB),
            "HYBRID_RESUME_GRACE_SECONDS": str(GRACE),
            "HYBRID_CLIENT_STREAMS": "0",
            "HYBRID_DEMO_TOKEN_MS": "5",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),  # /metrics sums both workers
        },
    )
    outcomes = [run_async(soak_round(server))]  # warm-up: first-use allocations, caches, pool connections
    assert settled(server, redis_server)[:2] == (0, 0)
    time.sleep(0.5)  # the warm-up's last connections close
    # What an idle worker runs (the server, its lifespan, this request, the Redis stop channel once the
    # worker started an answer): each may run once; anything more was left behind.
    idle = {name for names in tasks_per_worker(server).values() for name in names}
    baseline_rss = sum(rss_kib(pid) for pid in workers(server))
    after = []
    for _ in range(ROUNDS):
        outcomes.append(run_async(soak_round(server)))
        buffered, keys, pooled, tails = settled(server, redis_server)
        assert (buffered, keys) == (0, 0), "answers stayed buffered after every client left"
        assert tails == 0, "connections of finished resumes were left open"
        assert pooled <= 2 * (POOL_CONNECTIONS + 1), pooled  # each worker's pool and its stop channel
        extra = tasks_settled(server, idle)
        assert not any(extra.values()), f"tasks left behind, per worker: {extra}"
        after.append(sum(rss_kib(pid) for pid in workers(server)))
    print(
        f"resume soak: {ANSWERS} answers x {ROUNDS} rounds; an idle worker's tasks {sorted(idle)}; "
        f"RSS {baseline_rss} KiB after warm-up, then {after} KiB"
    )
    for round_outcomes in outcomes:
        assert round_outcomes.count("abandoned") == int(ANSWERS * ABANDON_SHARE)
        assert {text for text in round_outcomes if text != "abandoned"} == {whole_answer_text}
    assert httpx.get(server.url + "/healthz").json()["streams"] == 0
    assert after[-1] <= baseline_rss * 1.10, f"RSS grew from {baseline_rss} KiB to {after} KiB"
