"""Prometheus instruments of resumable answers, in the registry of the app's `hybrid._ops.metrics.Metrics`.

Counted per answer and per resume, never per frame: the buffer's size is observed once, when an answer
ends.
"""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

BUFFER_BUCKETS = (1_024, 4_096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304)


class AnswerInstruments:
    """What `hybrid._answers.resumable.Answers` counts."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.resumes = Counter(
            "hybrid_resumes",
            "Resume requests, by outcome: `local` (served from this worker's memory), `shared` (from "
            "the shared store: another worker generated it), `gone` (204), `refused` (4xx), "
            "`unavailable` (503: the shared store could not be reached), `shutting_down` (503: this "
            "worker is stopping), `busy` (503: `HYBRID_MAX_STREAMS` reached), `refused` also counting "
            "429s (the client's limits, or `HYBRID_RESUME_READERS`).",
            ("outcome",),
            registry=registry,
        )
        self.stopped = Counter(
            "hybrid_answers_stopped",
            "Answers ended early, by reason: `stopped` (the client's Stop), `abandoned` (nobody came "
            "back within the grace), `shutdown`.",
            ("reason",),
            registry=registry,
        )
        self.buffered = Gauge(
            "hybrid_answers_buffered",
            "Answers held in memory: generating, or kept for resumes after they ended.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.resumes_open = Gauge(
            "hybrid_resumes_open",
            "Resume connections open now: each holds a stream place of the server's and of its client's "
            "(`hybrid_streams_open` counts the answers, not the connections reading them).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.buffer_bytes = Histogram(
            "hybrid_answer_buffer_bytes",
            "Size of an answer's buffered frames in memory when it ended.",
            registry=registry,
            buckets=BUFFER_BUCKETS,
        )
        self.redis_errors = Counter(
            "hybrid_redis_errors",
            "Failed operations on the shared Redis, by operation (`open`, `write`, `read`, `lookup`, "
            "`stop`, `lease`, `listen`, `nonce`, `limit`).",
            ("operation",),
            registry=registry,
        )


_INSTRUMENTS: weakref.WeakKeyDictionary[CollectorRegistry, AnswerInstruments] = weakref.WeakKeyDictionary()
"""Weak: an app's registry (and these) go when the app goes; the instruments do not refer back to it."""


def instruments_for(registry: CollectorRegistry) -> AnswerInstruments:
    """One set per registry: the apps of a process share one in multiprocess mode (see
    `hybrid._ops.metrics`)."""
    instruments = _INSTRUMENTS.get(registry)
    if instruments is None:
        instruments = _INSTRUMENTS[registry] = AnswerInstruments(registry)
    return instruments
