"""Soak: many concurrent chat streams with random client aborts end cleanly and leave nothing behind.

`make test` runs it at a reduced scale; `make soak` at full scale (HYBRID_SOAK_STREAMS=1000).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import httpx
import pytest

from hybrid._chat.tickets import TicketSigner
from tests.conftest import Server, run_async

pytestmark = pytest.mark.soak

STREAMS = int(os.environ.get("HYBRID_SOAK_STREAMS", "200"))
ROUNDS = int(os.environ.get("HYBRID_SOAK_ROUNDS", "3"))
ABORT_SHARE = 0.1
SECRET = "soak-secret"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one_stream(client: httpx.AsyncClient, signer: TicketSigner, abort: bool) -> str:
    messages = [{"role": "user", "content": f"soak {random.random()}"}]
    body = {"ticket": signer.issue({"chat": "chat", "messages": messages, "context": [None, None, None]})}
    async with client.stream("POST", "/api/stream", json=body) as response:
        assert response.status_code == 200, await response.aread()
        received = b""
        stop_after = random.randint(1, 2000)
        async for chunk in response.aiter_bytes():
            received += chunk
            if abort and len(received) >= stop_after:
                return "aborted"  # leaving the block closes the connection mid-answer
    assert received.endswith(b"data: [DONE]\n\n"), received[-200:]
    return "completed"


async def soak_round(server: Server, signer: TicketSigner) -> list[str]:
    limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        aborts = [index < STREAMS * ABORT_SHARE for index in range(STREAMS)]
        random.shuffle(aborts)
        return await asyncio.gather(*(one_stream(client, signer, abort) for abort in aborts))


async def wait_for_no_streams(server: Server) -> int:
    async with httpx.AsyncClient(base_url=server.url) as client:
        for _ in range(100):
            open_streams = (await client.get("/healthz")).json()["streams"]
            if open_streams == 0:
                return 0
            await asyncio.sleep(0.05)
    return open_streams


def test_concurrent_streams_with_random_aborts_end_cleanly_and_memory_returns(serve) -> None:
    server = serve(
        env={
            "HYBRID_SECRET_KEY": SECRET,
            "HYBRID_CLIENT_STREAMS": "0",
            "HYBRID_DEMO_TTFT_MS": "50",
            "HYBRID_DEMO_TOKEN_MS": "5",
        },
        args=("--limit-concurrency", str(STREAMS + 100), "--backlog", str(STREAMS + 100)),
    )
    signer = TicketSigner(SECRET)

    async def scenario() -> tuple[int, list[int], list[list[str]]]:
        outcomes = [await soak_round(server, signer)]  # warm-up: first-use allocations, caches
        assert await wait_for_no_streams(server) == 0
        baseline = rss_kib(server.process.pid)
        after = []
        for _ in range(ROUNDS):
            outcomes.append(await soak_round(server, signer))
            assert await wait_for_no_streams(server) == 0, "streams stayed open after every client left"
            after.append(rss_kib(server.process.pid))
        return baseline, after, outcomes

    baseline, after, outcomes = run_async(scenario())
    print(f"soak: {STREAMS} streams x {ROUNDS} rounds; RSS {baseline} KiB after warm-up, then {after} KiB")
    for round_outcomes in outcomes:
        assert round_outcomes.count("completed") == STREAMS - int(STREAMS * ABORT_SHARE)
        assert round_outcomes.count("aborted") == int(STREAMS * ABORT_SHARE)
    assert after[-1] <= baseline * 1.10, f"RSS grew from {baseline} KiB to {after} KiB"
