"""Latency statistics over what the load generator saw: percentiles, TTFT and ITL, goodput.

Pure Python (no numpy), so `make test` can run the harness without the bench extra. Percentiles
interpolate linearly between the closest ranks, as numpy's default does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from benchmarks.accounting import COMPLETED, outcome
from benchmarks.loadgen import StreamResult


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of values sorted ascending; at least one value."""
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def pct(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile of seconds, in milliseconds (None for no values)."""
    ordered = sorted(values)
    return percentile(ordered, q) * 1000 if ordered else None


def summarize_streams(results: list[StreamResult]) -> dict[str, float | None]:
    """TTFT (to the first token) and ITL (pooled gaps between tokens, vLLM's definition), in ms."""
    ttfts = sorted(r.ttft for r in results if r.ttft is not None)
    gaps = sorted(g for r in results for g in r.gaps)
    summary: dict[str, float | None] = {}
    for name, ordered in (("ttft", ttfts), ("itl", gaps)):
        for q in (50, 90, 99, 100):
            key = f"{name}_{'max' if q == 100 else f'p{q}'}_ms"
            summary[key] = percentile(ordered, q) * 1000 if ordered else None
    return summary


def goodput(results: list[StreamResult], ttft_ms: float, gap_ms: float, expected_tokens: int) -> int:
    """Streams that completed within the SLO on their own: TTFT and their p99 gap under the limits."""
    good = 0
    for r in results:
        if outcome(r, expected_tokens)[0] != COMPLETED or r.ttft is None or r.ttft * 1000 > ttft_ms:
            continue
        if r.gaps and percentile(sorted(r.gaps), 99) * 1000 > gap_ms:
            continue
        good += 1
    return good
