"""Scenarios S1-S8: each runs against a started `Server` and returns flat metrics (ms, us, KB, /s)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks import loadgen, procstat, tokens
from benchmarks.contenders import SECRET_KEY, Server
from benchmarks.dash_app import callback_body

CADENCE_MS = 20.0
"""50 tokens per second."""
SLO_TTFT_MS = 250.0
SLO_GAP_MS = 100.0

Metrics = dict[str, Any]


@dataclass(frozen=True)
class Sizes:
    """How big each scenario's load is (`quick` for `make bench`, `full` for `make bench-full`)."""

    s1_streams: int = 8
    s1_events: int = 20000
    s2_seconds: float = 1.5
    s2_ramp: float = 0.75
    s2_max: int = 3200
    s2_bisect: int = 1
    s3_streams: int = 1000
    s4_streams: int = 1000
    s5_streams: int = 100
    s5_seconds: float = 3.0
    s5_callback_clients: int = 2
    s6_seconds: float = 1.5
    s6_clients: int = 16
    s7_streams: int = 100
    s8_streams: int = 500


QUICK = Sizes()
FULL = Sizes(
    s1_events=40000,
    s2_seconds=2.0,
    s2_ramp=1.0,
    s2_max=6400,
    s3_streams=2000,
    s4_streams=2000,
    s5_streams=200,
    s5_seconds=5.0,
    s6_seconds=2.0,
    s7_streams=200,
    s8_streams=1000,
)


def _cap(server: Server, count: int) -> int:
    cap = server.contender.max_streams
    return min(count, cap) if cap else count


def _measure(server: Server, load: Callable[[], Any]) -> tuple[Any, Metrics]:
    """Run `load` on the load generator; return its result and what it cost both sides."""
    before, lg_before, wall = server.sample(), procstat.self_cpu(), time.perf_counter()
    result = loadgen.run(load)
    wall = time.perf_counter() - wall
    after = server.sample()
    return result, {
        "server_cpu_s": after.cpu_s - before.cpu_s,
        "loadgen_cpu_s": procstat.self_cpu() - lg_before,
        "wall_s": wall,
    }


def warm_up(server: Server) -> None:
    """A few streams and Dash requests, so lazy imports and caches do not land in the first scenario."""

    async def load() -> None:
        streams = loadgen.StreamSet(server.stream_port, tokens.Plan(n=20, ms=1))
        await streams.open(10)
        await streams.wait(10)
        if server.contender.serves_dash:
            requests = [loadgen.http_request("GET", "/"), _callback("light"), _callback("heavy")]
            await loadgen.closed_loop(server.dash_port, requests, 2, 0.5)

    loadgen.run(load)


def _callback(name: str) -> bytes:
    return loadgen.http_request("POST", "/_dash-update-component", callback_body(name))


def s1_event_cost(server: Server, sizes: Sizes) -> Metrics:
    """Events back to back on a few streams: server CPU per event."""
    plan = tokens.Plan(n=sizes.s1_events, ms=0)

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(sizes.s1_streams)
        await streams.wait(60)
        return streams.results

    results, cost = _measure(server, load)
    events = sum(r.events for r in results)
    return {
        **cost,
        "events": events,
        "complete": sum(1 for r in results if r.done and r.events == plan.n),
        "cpu_us_per_event": cost["server_cpu_s"] / max(events, 1) * 1e6,
        "events_per_s": events / cost["wall_s"],
    }


def _paced_probe(server: Server, count: int, sizes: Sizes) -> Metrics:
    plan = tokens.Plan(n=int(sizes.s2_seconds * 1000 / CADENCE_MS), ms=CADENCE_MS)

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count, sizes.s2_ramp)
        await streams.wait(sizes.s2_seconds + 3)
        return streams.results

    results, cost = _measure(server, load)
    summary = loadgen.summarize_streams(results, plan.n)
    good = loadgen.goodput(results, SLO_TTFT_MS, SLO_GAP_MS, plan.n)
    passed = (
        summary["complete"] >= 0.99 * count
        and summary["ttft_p99_ms"] is not None
        and summary["ttft_p99_ms"] <= SLO_TTFT_MS
        and summary["itl_p99_ms"] is not None
        and summary["itl_p99_ms"] <= SLO_GAP_MS
    )
    events = max(summary["events"] or 0, 1)
    return {
        "streams": count,
        **summary,
        "goodput": good,
        "passed": passed,
        **cost,
        "cpu_us_per_event": cost["server_cpu_s"] / events * 1e6,
        "loadgen_busy": cost["loadgen_cpu_s"] / cost["wall_s"],
    }


def s2_capacity(server: Server, sizes: Sizes, start: int = 200, fine: bool = False) -> Metrics:
    """The most concurrent streams at 50 tokens/s that meet the SLO (geometric search, bounded).

    From `start` it steps by 2x (by 1.25x when `fine`, i.e. `start` is an earlier round's answer) until
    the verdict flips, then bisects geometrically.
    """
    factor = 1.25 if fine else 2.0
    probes: list[Metrics] = []

    def probe(count: int) -> bool:
        result = _paced_probe(server, count, sizes)
        probes.append(result)
        if not result["passed"]:
            server.restart()  # a server left behind by a failed probe would skew the next one
        return bool(result["passed"])

    low, high = 0, None
    count = max(8, min(start, sizes.s2_max))
    while True:
        if probe(count):
            low = count
            if count >= sizes.s2_max or (high and count * factor >= high):
                break
            count = min(int(count * factor), sizes.s2_max)
        else:
            high = count
            if low or count <= 8:
                break
            count = max(int(count / factor), 8)
    for _ in range(sizes.s2_bisect if high and not fine else 0):
        middle = round((max(low, 4) * high) ** 0.5)
        if middle in (low, high):
            break
        if probe(middle):
            low = middle
        else:
            high = middle
    best = max((p for p in probes if p["passed"]), key=lambda p: p["streams"], default=None)
    return {
        "capacity": low,
        "first_fail": high,
        "probes": [
            {k: p[k] for k in ("streams", "passed", "ttft_p99_ms", "itl_p99_ms", "goodput")} for p in probes
        ],
        "at_capacity": {k: v for k, v in (best or {}).items() if k != "streams"},
    }


def s3_storm(server: Server, sizes: Sizes) -> Metrics:
    """Many streams opened at the same instant: the TTFT distribution."""
    count = sizes.s3_streams
    plan = tokens.Plan(n=20, ms=CADENCE_MS)
    timeout = 10.0

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count)
        await streams.wait(timeout)
        return streams.results

    results, cost = _measure(server, load)
    ttfts = np.array([r.ttft if r.ttft is not None else timeout for r in results]) * 1000
    return {
        "streams": count,
        "no_first_token": int(sum(1 for r in results if r.ttft is None)),
        "ttft_p50_ms": float(np.percentile(ttfts, 50)),
        "ttft_p90_ms": float(np.percentile(ttfts, 90)),
        "ttft_p99_ms": float(np.percentile(ttfts, 99)),
        "ttft_max_ms": float(ttfts.max()),
        "ttft_cdf_ms": [round(float(v), 2) for v in np.percentile(ttfts, np.arange(0, 101, 2))],
        **cost,
    }


def s4_idle_memory(server: Server, sizes: Sizes) -> Metrics:
    """Resident memory per open stream that has sent one event and waits for the next."""
    count = _cap(server, sizes.s4_streams)
    plan = tokens.Plan(n=2, ms=60_000)

    async def load() -> Metrics:
        await asyncio.sleep(0.5)
        before = server.sample()
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count, 0.5)
        opened = await streams.wait_first_events(20)
        await asyncio.sleep(1.0)
        after = server.sample()
        streams.abort()
        await asyncio.sleep(0.5)
        return {
            "streams": count,
            "all_open": opened,
            "kb_per_stream": (after.rss_kb - before.rss_kb) / count,
            "fds_per_stream": (after.fds - before.fds) / count,
        }

    result, cost = _measure(server, load)
    return {**result, **cost}


def s5_interference(server: Server, sizes: Sizes) -> Metrics:
    """Paced streams while clients keep CPU-heavy (50 ms) Dash callbacks busy: gaps and callback latency."""
    plan = tokens.Plan(n=int(sizes.s5_seconds * 1000 / CADENCE_MS), ms=CADENCE_MS)
    count = _cap(server, sizes.s5_streams)

    async def load() -> tuple[list[loadgen.StreamResult], loadgen.RequestStats]:
        streams = loadgen.StreamSet(server.stream_port, plan)
        opening = asyncio.ensure_future(streams.open(count, 0.5))
        calls = await loadgen.closed_loop(
            server.dash_port, [_callback("heavy")], sizes.s5_callback_clients, sizes.s5_seconds
        )
        await opening
        await streams.wait(sizes.s5_seconds + 10)
        return streams.results, calls

    (results, calls), cost = _measure(server, load)
    summary = loadgen.summarize_streams(results, plan.n)
    return {
        "streams": count,
        **{k: summary[k] for k in ("complete", "itl_p50_ms", "itl_p99_ms", "itl_max_ms", "ttft_p99_ms")},
        "gap_p99_over_cadence": (summary["itl_p99_ms"] or 0) / CADENCE_MS,
        "callbacks": len(calls.latencies),
        "callback_failures": calls.failures,
        "callback_p50_ms": loadgen.pct(calls.latencies, 50),
        "callback_p99_ms": loadgen.pct(calls.latencies, 99),
        **cost,
    }


def _asset_path(server: Server) -> str:
    async def page() -> bytes:
        reader, writer = await asyncio.open_connection(loadgen.HOST, server.dash_port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        body = await reader.read()
        writer.close()
        return body

    html = loadgen.run(page)
    assert isinstance(html, bytes)
    scripts = re.findall(rb'src="([^"]*_dash-component-suites[^"]*)"', html)
    return scripts[0].decode() if scripts else "/_dash-layout"


def s6_dash_side(server: Server, sizes: Sizes) -> Metrics:
    """Closed-loop Dash traffic, one kind at a time: page, an asset, the light callback."""
    kinds = {
        "page": loadgen.http_request("GET", "/"),
        "asset": loadgen.http_request("GET", _asset_path(server)),
        "callback": _callback("light"),
    }
    metrics: Metrics = {}
    for kind, request in kinds.items():

        async def load(request: bytes = request) -> loadgen.RequestStats:
            return await loadgen.closed_loop(server.dash_port, [request], sizes.s6_clients, sizes.s6_seconds)

        stats, cost = _measure(server, load)
        done = len(stats.latencies)
        metrics[f"{kind}_per_s"] = done / stats.seconds
        metrics[f"{kind}_p99_ms"] = loadgen.pct(stats.latencies, 99)
        metrics[f"{kind}_failures"] = stats.failures
        metrics[f"{kind}_cpu_us"] = cost["server_cpu_s"] / max(done, 1) * 1e6
    return metrics


def s8_disconnect_storm(server: Server, sizes: Sizes) -> Metrics:
    """Every open stream's client leaves at once: how fast the server lets go, and what it keeps."""
    count = _cap(server, sizes.s8_streams)
    plan = tokens.Plan(n=1_000_000, ms=CADENCE_MS)

    async def load() -> Metrics:
        await asyncio.sleep(0.3)
        baseline = server.stream_sample()
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count, 0.5)
        await streams.wait_first_events(20)
        await asyncio.sleep(0.5)
        loaded = server.stream_sample()
        left = time.perf_counter()
        streams.abort()
        released = None
        while time.perf_counter() - left < 10:
            if server.stream_sample().fds <= baseline.fds + 1:
                released = time.perf_counter() - left
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)
        settled = server.stream_sample()
        active = await _read_active(server)
        return {
            "streams": count,
            "release_all_ms": None if released is None else released * 1000,
            "fds_left": settled.fds - baseline.fds,
            "generators_left": active,
            "rss_growth_kb": settled.rss_kb - baseline.rss_kb,
            "rss_loaded_kb": loaded.rss_kb - baseline.rss_kb,
        }

    result, cost = _measure(server, load)
    return {**result, **cost}


async def _read_active(server: Server) -> int | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(loadgen.HOST, server.stream_port), 5)
        writer.write(f"GET {tokens.ACTIVE_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return int(raw.split(b"\r\n\r\n", 1)[1])
    except (TimeoutError, OSError, ValueError):
        return None


CHAT = {"messages": [{"role": "user", "content": "Why stream?"}], "model": "sim"}


def s7_proxy(server: Server, sizes: Sizes) -> Metrics:
    """Paced streams through the whole path: for `hybrid-proxy` the chat route, the openai SDK and the
    simulator; for `hybrid` the same shape from the benchmark token source, as the reference."""
    count = sizes.s7_streams
    request: bytes | list[bytes]
    if server.contender.upstream:  # the chat route takes tickets, as the chat page's callback signs them
        from hybrid.tickets import TicketSigner

        signer = TicketSigner(server.contender.env.get("HYBRID_SECRET_KEY", SECRET_KEY))
        request = [
            loadgen.http_request(
                "POST", "/api/stream", json.dumps({"ticket": signer.issue(CHAT)}).encode(), close=True
            )
            for _ in range(count)
        ]
    else:
        request = loadgen.stream_request(tokens.Plan(n=100, ms=CADENCE_MS))

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, request)
        await streams.open(count, 0.5)
        await streams.wait(20)
        return streams.results

    results, cost = _measure(server, load)
    summary = loadgen.summarize_streams(results)
    return {
        **summary,
        "cpu_us_per_event": cost["server_cpu_s"] / max(summary["events"] or 0, 1) * 1e6,
        **cost,
    }
