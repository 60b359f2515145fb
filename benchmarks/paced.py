"""Paced streams at 50 tokens/s: one probe of N streams, and the search for the largest N within the SLO.

A probe opens N streams with their starts spread over a ramp, reads them to the end and checks the SLO:
every stream completed, TTFT p99 and gap p99 within bounds. S2 probes the benchmark token source, S7
is one probe through each contender's chat path, S9 searches N through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import loadgen, procstat, stats
from benchmarks.accounting import Tally, judged
from benchmarks.contenders import LOADGEN_CPU, SERVER_CPU, Server

SLO_TTFT_MS = 250.0
SLO_GAP_MS = 100.0
CLIENT_BUSY = 0.9
"""Above this share of its core, the load generator (and the simulator beside it) may be what failed."""

Metrics = dict[str, Any]


def measure(server: Server, load: Callable[[], Any]) -> tuple[Any, Metrics]:
    """Run `load` on the load generator; return its result and what it cost the server and the client
    core (the load generator and, for proxies, the simulator).

    `*_core_foreign` is the share of the run's wall time that each core spent on processes that are not
    ours: other people's work on a shared machine, which makes the run's figures less trustworthy.
    """
    cores = (int(SERVER_CPU), int(LOADGEN_CPU))
    before, upstream, lg_before = server.sample(), server.upstream_sample(), procstat.self_cpu()
    busy = [procstat.core_busy(core) for core in cores]
    wall = time.perf_counter()
    result = loadgen.run(load)
    wall = time.perf_counter() - wall
    busy = [procstat.core_busy(core) - was for core, was in zip(cores, busy, strict=True)]
    server_cpu = server.sample().cpu_s - before.cpu_s
    loadgen_cpu = procstat.self_cpu() - lg_before
    upstream_cpu = server.upstream_sample().cpu_s - upstream.cpu_s
    return result, {
        "server_cpu_s": server_cpu,
        "loadgen_cpu_s": loadgen_cpu,
        "upstream_cpu_s": upstream_cpu,
        "client_core_busy": (loadgen_cpu + upstream_cpu) / wall,
        "server_core_foreign": max(busy[0] - server_cpu, 0.0) / wall,
        "client_core_foreign": max(busy[1] - loadgen_cpu - upstream_cpu, 0.0) / wall,
        "wall_s": wall,
    }


def probe(
    server: Server,
    requests: bytes | list[bytes],
    count: int,
    expected_tokens: int,
    ramp_s: float,
    wait_s: float,
    answer: Sequence[str] | None = None,
) -> Metrics:
    """`count` streams opened over `ramp_s`, each read to its end within `wait_s`: SLO verdict and costs.

    With `answer`, the tokens every stream must carry, each stream is judged by its text
    (`loadgen.check_text`), so deltas a server sends together as one message still count as tokens."""

    async def load() -> list[loadgen.StreamResult]:
        streams = loadgen.StreamSet(server.stream_port, requests, keep_bodies=answer is not None)
        await streams.open(count, ramp_s)
        await streams.wait(wait_s)
        return streams.results

    results, cost = measure(server, load)
    if answer is not None:
        loadgen.check_text(results, answer)
    tally = Tally.of_streams(results, expected_tokens, expected=count)
    summary = stats.summarize_streams(results)
    ttft, gap = summary["ttft_p99_ms"], summary["itl_p99_ms"]
    delivered = sum(r.tokens for r in results)
    metrics = {
        "streams": count,
        **summary,
        "goodput": stats.goodput(results, SLO_TTFT_MS, SLO_GAP_MS, expected_tokens),
        "passed": tally.ok
        and ttft is not None
        and ttft <= SLO_TTFT_MS
        and gap is not None
        and gap <= SLO_GAP_MS,
        "tokens": delivered,
        "cpu_us_per_token": cost["server_cpu_s"] / max(delivered, 1) * 1e6,
        **cost,
    }
    return judged(metrics, streams=tally)


def capacity(
    probe_at: Callable[[int], Metrics], *, start: int, maximum: int, bisect: int, fine: bool
) -> Metrics:
    """The largest N whose probe passes (geometric search, bounded), with every probe's counts.

    From `start` it steps by 2x (by 1.25x when `fine`, i.e. `start` is an earlier round's answer) until
    the verdict flips, then bisects geometrically `bisect` times. Probes above capacity may lose streams
    (that is what over capacity means), but a refusal by status anywhere means a limit answered instead
    of the server: the result is failed.
    """
    factor = 1.25 if fine else 2.0
    probes: list[Metrics] = []

    def passes(count: int) -> bool:
        probes.append(probe_at(count))
        return bool(probes[-1]["passed"])

    low, high = 0, None
    count = max(8, min(start, maximum))
    while True:
        if passes(count):
            low = count
            if count >= maximum or (high and count * factor >= high):
                break
            count = min(int(count * factor), maximum)
        else:
            high = count
            if low or count <= 8:
                break
            count = max(int(count / factor), 8)
    for _ in range(bisect if high and not fine else 0):
        middle = round((max(low, 4) * high) ** 0.5)
        if middle in (low, high):
            break
        if passes(middle):
            low = middle
        else:
            high = middle
    return _capacity_result(low, high, probes)


def _capacity_result(low: int, high: int | None, probes: list[Metrics]) -> Metrics:
    best = max((p for p in probes if p["passed"]), key=lambda p: p["streams"], default=None)
    first_fail = next((p for p in probes if p["streams"] == high), None)
    refusals = [p for p in probes if Tally.from_dict(p["tallies"]["streams"]).refused]
    failure = None
    if refusals:
        failure = f"{len(refusals)} probe(s) had streams refused by status, e.g. " + _probe_detail(
            refusals[0]
        )
    elif best is None:
        failure = "no probe met the SLO; smallest: " + _probe_detail(min(probes, key=lambda p: p["streams"]))
    keep = ("streams", "passed", "ttft_p99_ms", "itl_p99_ms", "goodput", "client_core_busy")
    keep += ("server_core_foreign", "tallies")
    return {
        "capacity": low,
        "first_fail": high,
        "client_core_busy_at_first_fail": first_fail["client_core_busy"] if first_fail else None,
        "server_core_foreign": max(p["server_core_foreign"] for p in probes),
        "probes": [{k: p[k] for k in keep} for p in probes],
        "at_capacity": {k: v for k, v in (best or {}).items() if k not in ("streams", "tallies")},
        "tallies": best["tallies"] if best else {},
        "ok": failure is None,
        "failure": failure,
    }


def _probe_detail(probe_result: Metrics) -> str:
    tally = Tally.from_dict(probe_result["tallies"]["streams"])
    return f"{probe_result['streams']} streams: {tally.detail()}"
