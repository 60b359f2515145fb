"""The benchmark harness cannot hide a failure: a real server that refuses, cuts, errors, shortens and
stalls streams, read by the load generator, reported by the suite, and the suite's exit status.

Run as a module (`python -m tests.benchmarks.test_bench_harness PORT`) this file is that server: the suite
starts it as a contender, pinned like every other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from benchmarks import loadgen, paced, report, run, scenarios, tokens
from benchmarks.accounting import Tally
from benchmarks.contenders import CONTENDERS, Contender
from hybrid.dev.servers import free_port

T = TypeVar("T")

TOKENS = 5
"""Tokens of a stream that completes, as every mode but `short` streams them."""
MULTILINE = b"data: two\ndata: lines\n\n"  # one token, two lines


class FaultyServer:
    """HTTP/1.1 SSE with chunked framing; `?mode=` picks what a stream does, else `flaky`: streams of at
    least 100 tokens are refused (429) or cut, two of every four in turn."""

    def __init__(self) -> None:
        self.arrivals = itertools.count()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            url = urlsplit(head.split(b" ", 2)[1].decode())
            if url.path == tokens.ACTIVE_PATH:
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\nconnection: close\r\n\r\n0")
                return
            query = dict(parse_qsl(url.query))
            n = int(query.get("n", TOKENS))
            await self.stream(writer, query.get("mode") or self.flaky(n), n)
        finally:
            writer.close()

    def flaky(self, n: int) -> str:
        if n < 100:  # the suite's warm-up passes
            return "ok"
        return ("ok", "refuse", "ok", "cut")[next(self.arrivals) % 4]

    async def stream(self, writer: asyncio.StreamWriter, mode: str, n: int) -> None:
        if mode in ("refuse", "busy"):
            status = b"429 Too Many Requests" if mode == "refuse" else b"503 Service Unavailable"
            body = b'{"error": {"type": "limited"}}'
            writer.write(
                b"HTTP/1.1 %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, len(body), body)
            )
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )

        def chunk(data: bytes) -> None:
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))

        chunk(b'event: meta\ndata: {"model": "x"}\n\n')  # not a token: TTFT waits for the first token
        await asyncio.sleep(0.05)
        chunk(b": keep-alive\n\n")
        count = n - 2 if mode == "short" else n
        for index in range(count):
            if mode == "cut" and index == n // 2:
                return  # the connection closes mid-answer: no [DONE], not even the last chunk
            if mode == "stall" and index == 1:
                await asyncio.sleep(3600)
            if (
                mode == "joined" and index == count - 2
            ):  # two deltas that arrived together, as hybrid sends them
                chunk(b"data:  token token\n\n")
                break
            if mode == "garbled" and index == 3:
                chunk(b"data:  tokem\n\n")
            elif index == 1:
                chunk(MULTILINE)
            elif index == 2 and n < 100:  # a message split across two writes (and reads)
                chunk(b"data:  to")
                await writer.drain()
                await asyncio.sleep(0.01)
                chunk(b"ken\n\n")
            else:
                chunk(b"data:  token\n\n")
        if mode == "error":
            chunk(b'event: error\ndata: {"type": "upstream"}\n\ndata: \xe2\x9a\xa0 stopped\n\n')
        chunk(b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")


def serve(port: int) -> None:
    async def main() -> None:
        server = await asyncio.start_server(FaultyServer().handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


@pytest.fixture
def faulty_port() -> Iterator[int]:
    """The faulty server on a thread of this process, on a loopback port."""
    port = free_port()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    starting = asyncio.start_server(FaultyServer().handle, "127.0.0.1", port)
    server = asyncio.run_coroutine_threadsafe(starting, loop).result(5)
    yield port

    async def stop() -> None:  # the stalled stream's handler is still asleep
        server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def off_the_main_loop(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on a thread of its own: Playwright's sync API may hold a loop in this one."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def test_every_stream_is_accounted_for(faulty_port: int) -> None:
    modes = ["ok", "ok", "ok", "refuse", "refuse", "busy", "cut", "cut", "error", "short", "stall"]
    requests = [
        loadgen.http_request("GET", f"{tokens.STREAM_PATH}?mode={m}&n={TOKENS}", close=True) for m in modes
    ]

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(faulty_port, requests)
        await streams.open(len(requests))
        assert not await streams.wait(1.5)  # the stalled stream is still open at the deadline
        unreachable = loadgen.StreamSet(free_port(), requests[:1])  # nobody listens there
        await unreachable.open(1)
        return streams.results + unreachable.results

    results = off_the_main_loop(loadgen.run, load)
    assert isinstance(results, list)
    tally = Tally.of_streams(results, TOKENS, expected=len(modes) + 1)

    assert (tally.expected, tally.opened, tally.completed) == (12, 11, 3)
    assert tally.refused == {"429": 2, "503": 1}
    assert tally.failed == {
        "cut": 2,
        "error event": 1,
        "wrong token count": 1,
        "timeout": 1,
        "connect: ConnectionRefusedError": 1,
    }
    assert not tally.ok and tally.verdict() == "FAILED (3/12)"
    for ok in results[:3]:  # a multi-line message, a split one, a named event and a comment: 5 tokens
        assert ok.tokens == TOKENS and ok.done and ok.ttft is not None and ok.ttft >= 0.05


def test_a_chat_answer_is_judged_by_its_text_not_its_count_of_messages(faulty_port: int) -> None:
    answer = [" token", "two\nlines", " token", " token", " token"]  # what an `ok` stream says
    modes = ["ok", "joined", "garbled", "short"]
    requests = [
        loadgen.http_request("GET", f"{tokens.STREAM_PATH}?mode={m}&n={TOKENS}", close=True) for m in modes
    ]

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(faulty_port, requests, keep_bodies=True)
        await streams.open(len(requests))
        await streams.wait(5)
        loadgen.check_text(streams.results, answer)
        return streams.results

    results = off_the_main_loop(loadgen.run, load)
    tally = Tally.of_streams(results, TOKENS, expected=len(modes))
    # Joined deltas are one message fewer but every token; a wrong or a missing token is a failure.
    assert [r.tokens for r in results[:2]] == [TOKENS, TOKENS]
    assert (tally.completed, tally.failed) == (2, {"wrong text": 2})


def test_a_capacity_search_that_was_refused_is_failed() -> None:
    limit = 16  # a per-client limit answers 429 past 16 streams: what the search finds is the limit

    def probe_at(count: int) -> dict[str, object]:
        refused = {"429": count - limit} if count > limit else {}
        tally = Tally(expected=count, opened=count, completed=min(count, limit), refused=Counter(refused))
        figures = {"ttft_p99_ms": 1.0, "itl_p99_ms": 20.0, "goodput": 0, "client_core_busy": 0.1}
        return {"streams": count, "passed": tally.ok, **figures, "server_core_foreign": 0.0,
                "tallies": {"streams": tally.as_dict()}}  # fmt: skip

    result = paced.capacity(probe_at, start=8, maximum=64, bisect=1, fine=False)

    assert result["capacity"] == limit
    assert not result["ok"] and "refused by status" in result["failure"]


@pytest.mark.server
def test_the_suite_marks_failures_everywhere_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = (sys.executable, "-m", "tests.benchmarks.test_bench_harness", "{stream}")
    flaky = Contender("flaky", "flaky test server", (command,), serves_dash=False)
    monkeypatch.setitem(CONTENDERS, "flaky", flaky)
    monkeypatch.setitem(run.PLAN, "S1", (scenarios.s1_event_cost, ("raw", "flaky")))
    monkeypatch.setattr(scenarios, "QUICK", scenarios.Sizes(s1_events=200))
    monkeypatch.setattr(run, "RESULTS", tmp_path)
    charted: list[list[report.Bar]] = []

    def charts(doc: dict[str, object], stem: Path) -> None:  # what the charts draw, without matplotlib
        charted.append(report.bars(doc, "S1", "cpu_us_per_event", ["raw", "flaky"]))

    monkeypatch.setattr(report, "charts", charts)
    affinity, interval = os.sched_getaffinity(0), sys.getswitchinterval()
    try:
        status = off_the_main_loop(
            run.main, ["--only", "S1", "--contenders", "raw,flaky", "--out", "harness"]
        )
    finally:
        os.sched_setaffinity(0, affinity)
        sys.setswitchinterval(interval)

    assert status == 1
    doc = json.loads((tmp_path / "harness.json").read_text())
    flaky_run, raw_run = doc["runs"]["S1"]["flaky"][0], doc["runs"]["S1"]["raw"][0]
    assert flaky_run["tallies"]["streams"] == {
        "expected": 8, "opened": 8, "completed": 4, "refused": {"429": 2}, "failed": {"cut": 2}, "ok": False,
    }  # fmt: skip
    assert not flaky_run["ok"] and raw_run["ok"]
    markdown = (tmp_path / "harness.md").read_text()
    assert "| flaky test server | FAILED (4/8) |" in markdown
    assert "**FAILED** S1 flaky test server, round 1: streams FAILED (4/8): refused 429 x2" in markdown
    assert "| raw ASGI floor (uvicorn) | FAILED" not in markdown
    assert {bar.name: bar.failed for bar in charted[-1]} == {"raw": None, "flaky": "FAILED (4/8)"}
    assert charted[-1][0].median is not None and charted[-1][1].median is None


if __name__ == "__main__":
    serve(int(sys.argv[1]))
