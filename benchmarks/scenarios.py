"""Scenarios S1-S9: each runs against a started `Server` and returns flat metrics (ms, us, KB, /s).

Every result carries the raw counts behind its figures (`tallies`: expected, opened, completed, refused
by status, failed by reason) and `ok`: False when anything the scenario sent did not complete as it
should, and then the figures are not figures (the report prints `FAILED (n/N)` instead).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks import chat, loadgen, paced, stats, tokens
from benchmarks.accounting import Tally, judged
from benchmarks.contenders import SECRET_KEY, Server
from benchmarks.dash_app import callback_body

CADENCE_MS = 20.0
"""50 tokens per second."""
BOUND_S = 60.0
"""Longest wait for streams to open (S4, S8) or end (S3, S7): a stream slower than that failed."""
RELEASE_S = 10.0
"""S8: a socket the server still holds this long after its client left is a failure."""

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
    s9_max: int = 1600
    s10_visits: int = 3
    s11_rounds: int = 3


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
    s9_max=3200,
    s10_visits=5,
    s11_rounds=5,
)


def _cap(server: Server, count: int) -> int:
    cap = server.contender.max_streams
    return min(count, cap) if cap else count


def chat_requests(server: Server, count: int) -> list[bytes]:
    """One request per answer for the contender's chat route (tickets signed with the suite's key)."""
    contender = server.contender
    secret_key = SECRET_KEY if contender.tickets else None
    return chat.requests(contender.chat_path, count, secret_key, resumable=contender.resumable)


def warm_up(server: Server) -> None:
    """A few streams and Dash requests, so lazy imports, caches and upstream connections do not land in
    the first scenario. A warm-up that loses a stream raises: nothing after it would be a figure."""
    chatty = bool(server.contender.chat_path)
    requests: bytes | list[bytes] = (
        chat_requests(server, 10) if chatty else loadgen.stream_request(tokens.Plan(n=20, ms=1))
    )

    async def load() -> tuple[list[loadgen.StreamResult], loadgen.RequestStats | None]:
        streams = loadgen.StreamSet(server.stream_port, requests, keep_bodies=chatty)
        await streams.open(10)
        await streams.wait(10)
        if chatty:
            loadgen.check_text(streams.results, chat.ANSWER)
        calls = None
        if server.contender.serves_dash:
            dash = [loadgen.http_request("GET", "/"), _callback("light"), _callback("heavy")]
            calls = await loadgen.closed_loop(server.dash_port, dash, 2, 0.5)
        return streams.results, calls

    results, calls = loadgen.run(load)  # type: ignore[misc]
    tallies = {"streams": Tally.of_streams(results, chat.ANSWER_TOKENS if chatty else 20, expected=10)}
    if calls is not None:
        tallies["dash"] = Tally.of_requests(calls)
    warm = judged({}, **tallies)
    if not warm["ok"]:
        raise RuntimeError(f"warm-up failed: {warm['failure']}")


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

    results, cost = paced.measure(server, load)
    events = sum(r.tokens for r in results)
    metrics = {
        **cost,
        "events": events,
        "cpu_us_per_event": cost["server_cpu_s"] / max(events, 1) * 1e6,
        "events_per_s": events / cost["wall_s"],
    }
    return judged(metrics, streams=Tally.of_streams(results, plan.n, expected=sizes.s1_streams))


def s2_capacity(server: Server, sizes: Sizes, start: int = 400, fine: bool = False) -> Metrics:
    """The most concurrent streams of the token source at 50 tokens/s that meet the SLO."""
    plan = tokens.Plan(n=int(sizes.s2_seconds * 1000 / CADENCE_MS), ms=CADENCE_MS)
    request = loadgen.stream_request(plan)
    return _sweep(server, sizes, lambda _: request, plan.n, sizes.s2_max, start, fine)


def _sweep(
    server: Server,
    sizes: Sizes,
    requests_for: Callable[[int], bytes | list[bytes]],
    expected_tokens: int,
    maximum: int,
    start: int,
    fine: bool,
    answer: Sequence[str] | None = None,
) -> Metrics:
    """`paced.capacity` over probes of answers `expected_tokens` long (with `answer`, judged by their
    text), on a fresh, warm server after a failed probe."""
    seconds = expected_tokens * CADENCE_MS / 1000

    def probe_at(count: int) -> Metrics:
        requests = requests_for(count)
        result = paced.probe(server, requests, count, expected_tokens, sizes.s2_ramp, seconds + 3, answer)
        if not result["passed"]:
            server.restart()  # a server left behind by a failed probe would skew the next one
            warm_up(server)
        return result

    return paced.capacity(probe_at, start=start, maximum=maximum, bisect=sizes.s2_bisect, fine=fine)


def s3_storm(server: Server, sizes: Sizes) -> Metrics:
    """Many streams opened at the same instant: the TTFT distribution, every stream read to its end."""
    count = sizes.s3_streams
    plan = tokens.Plan(n=20, ms=CADENCE_MS)

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count)
        await streams.wait(BOUND_S)
        return streams.results

    results, cost = paced.measure(server, load)
    ttfts = sorted(r.ttft * 1000 for r in results if r.ttft is not None)
    metrics: Metrics = {"streams": count, **cost}
    if ttfts:
        metrics |= {f"ttft_p{q}_ms": stats.percentile(ttfts, q) for q in (50, 90, 99)}
        metrics["ttft_max_ms"] = ttfts[-1]
        metrics["ttft_cdf_ms"] = [round(stats.percentile(ttfts, q), 2) for q in range(0, 101, 2)]
    return judged(metrics, streams=Tally.of_streams(results, plan.n, expected=count))


def s4_idle_memory(server: Server, sizes: Sizes) -> Metrics:
    """Resident memory per open stream that has sent one event and waits for the next."""
    count = _cap(server, sizes.s4_streams)
    plan = tokens.Plan(n=2, ms=60_000)

    async def load() -> tuple[Metrics, list[loadgen.StreamResult]]:
        await asyncio.sleep(0.5)
        before = server.sample()
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count, 0.5)
        await streams.wait_first_tokens(BOUND_S)
        await asyncio.sleep(1.0)
        after = server.sample()
        streams.leave()
        await asyncio.sleep(0.5)
        return {
            "streams": count,
            "kb_per_stream": (after.rss_kb - before.rss_kb) / count,
            "fds_per_stream": (after.fds - before.fds) / count,
        }, streams.results

    (metrics, results), cost = paced.measure(server, load)
    tally = Tally.of_streams(results, None, expected=count, held=True)
    return judged({**metrics, **cost}, streams=tally)


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

    (results, calls), cost = paced.measure(server, load)
    summary = stats.summarize_streams(results)
    metrics = {
        "streams": count,
        **{k: summary[k] for k in ("itl_p50_ms", "itl_p99_ms", "itl_max_ms", "ttft_p99_ms")},
        "gap_p99_over_cadence": (summary["itl_p99_ms"] or 0) / CADENCE_MS,
        "callbacks": len(calls.latencies),
        "callback_p50_ms": stats.pct(calls.latencies, 50),
        "callback_p99_ms": stats.pct(calls.latencies, 99),
        **cost,
    }
    streams = Tally.of_streams(results, plan.n, expected=count)
    return judged(metrics, streams=streams, callbacks=Tally.of_requests(calls))


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


def s6_requests(server: Server) -> dict[str, bytes]:
    """S6's kinds of Dash request: the page, one of its scripts, the light callback."""
    return {
        "page": loadgen.http_request("GET", "/"),
        "asset": loadgen.http_request("GET", _asset_path(server)),
        "callback": _callback("light"),
    }


def s6_dash_side(server: Server, sizes: Sizes) -> Metrics:
    """Closed-loop Dash traffic, one kind at a time: page, an asset, the light callback."""
    metrics: Metrics = {}
    tallies: dict[str, Tally] = {}
    for kind, request in s6_requests(server).items():

        async def load(request: bytes = request) -> loadgen.RequestStats:
            return await loadgen.closed_loop(server.dash_port, [request], sizes.s6_clients, sizes.s6_seconds)

        calls, cost = paced.measure(server, load)
        done = len(calls.latencies)
        metrics[f"{kind}_per_s"] = done / calls.seconds
        metrics[f"{kind}_p99_ms"] = stats.pct(calls.latencies, 99)
        metrics[f"{kind}_cpu_us"] = cost["server_cpu_s"] / max(done, 1) * 1e6
        metrics["server_core_foreign"] = max(
            metrics.get("server_core_foreign", 0.0), cost["server_core_foreign"]
        )
        tallies[kind] = Tally.of_requests(calls)
    return judged(metrics, **tallies)


def s7_proxy(server: Server, sizes: Sizes) -> Metrics:
    """Chat answers through the contender's chat path at 50 tokens/s: CPU per token, TTFT, gaps."""
    count = sizes.s7_streams
    requests = chat_requests(server, count)
    result = paced.probe(server, requests, count, chat.ANSWER_TOKENS, 0.5, BOUND_S, answer=chat.ANSWER)
    return {**result, "slo_met": result.pop("passed")}


def s8_disconnect_storm(server: Server, sizes: Sizes) -> Metrics:
    """Every open stream's client leaves at once: how fast the server lets go, and what it keeps."""
    count = _cap(server, sizes.s8_streams)
    plan = tokens.Plan(n=1_000_000, ms=CADENCE_MS)

    async def load() -> tuple[Metrics, list[loadgen.StreamResult]]:
        await asyncio.sleep(0.3)
        baseline = server.stream_sample()
        streams = loadgen.StreamSet(server.stream_port, plan)
        await streams.open(count, 0.5)
        await streams.wait_first_tokens(BOUND_S)
        await asyncio.sleep(0.5)
        loaded = server.stream_sample()
        left = time.perf_counter()
        streams.leave()
        released, still_open = None, 0
        while time.perf_counter() - left < RELEASE_S:
            still_open = server.stream_sample().fds - baseline.fds - 1  # one fd may be a reused socket
            if still_open <= 0:
                released = time.perf_counter() - left
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)
        settled = server.stream_sample()
        active = await _read_active(server)
        return {
            "streams": count,
            "release_all_ms": None if released is None else released * 1000,
            "sockets_kept": max(still_open, 0),
            "fds_left": settled.fds - baseline.fds,
            "generators_left": active,
            "rss_growth_kb": settled.rss_kb - baseline.rss_kb,
            "rss_loaded_kb": loaded.rss_kb - baseline.rss_kb,
        }, streams.results

    (metrics, results), cost = paced.measure(server, load)
    tally = Tally.of_streams(results, None, expected=count, held=True)
    kept = min(metrics["sockets_kept"], count)
    released = Tally(
        count, count, count - kept, failed=Counter({f"open {RELEASE_S:g} s after": kept} if kept else {})
    )
    return judged({**metrics, **cost}, streams=tally, released=released)


async def _read_active(server: Server) -> int | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(loadgen.HOST, server.stream_port), 5)
        writer.write(f"GET {tokens.ACTIVE_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        raw = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return int(raw.split(b"\r\n\r\n", 1)[1])
    except (TimeoutError, OSError, ValueError):
        return None


def s9_proxy_capacity(server: Server, sizes: Sizes, start: int = 200, fine: bool = False) -> Metrics:
    """The most concurrent chat answers through the contender's chat path at 50 tokens/s within the SLO
    (each probe signs its tickets just before it opens the streams: they expire)."""
    requests_for = functools.partial(chat_requests, server)
    return _sweep(server, sizes, requests_for, chat.ANSWER_TOKENS, sizes.s9_max, start, fine, chat.ANSWER)
