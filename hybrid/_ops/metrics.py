"""Prometheus metrics of one app, served at `GET /metrics`.

`Metrics` is a `StreamHooks`: streams are counted as each opens, is refused, and ends with its
`StreamOutcome`, never per delta; tokens from each answer's `Completion`; provider errors as the provider
reports them; Dash's thread pool by counting the requests it runs.

With several worker processes set `PROMETHEUS_MULTIPROC_DIR` to an empty directory shared by the workers
before they start (`python -m hybrid --workers N` makes a temporary one): every worker then writes its
values there and each scrape, whichever worker answers it, adds them up.
"""

from __future__ import annotations

import atexit
import functools
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from starlette.requests import Request
from starlette.responses import Response

from hybrid._errors import ApiError
from hybrid._providers.base import Completion
from hybrid._streams.hooks import StreamHooks, StreamOutcome

T = TypeVar("T")

FIRST_TOKEN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 60.0)
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


def multiprocess_mode() -> bool:
    """Whether values go to `PROMETHEUS_MULTIPROC_DIR` files (decided when prometheus_client was imported)."""
    return values.ValueClass is not values.MutexValue


class Instruments:
    """The counters, gauges and histograms, registered in `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, registry=registry, multiprocess_mode="livesum")

        self.open = gauge("hybrid_streams_open", "Streams open now.")
        self.started = counter("hybrid_streams_started", "Streams opened.")
        self.finished = counter("hybrid_streams_finished", "Streams that delivered the whole answer.")
        self.cancelled = counter("hybrid_streams_cancelled", "Streams the client closed before the end.")
        self.failed = counter(
            "hybrid_streams_failed",
            "Streams that ended with a notice instead of the whole answer, by reason (the error type, "
            "`shutdown` or `slow_consumer`).",
            ("reason",),
        )
        self.rejected = counter(
            "hybrid_stream_rejections",
            "Stream requests refused before streaming, by status and reason (429: a client's limits; "
            "503: the server's stream cap or shutdown; 4xx: invalid or unauthorized).",
            ("status", "reason"),
        )
        self.first_token = Histogram(
            "hybrid_time_to_first_token_seconds",
            "From the stream's start to its first text delta.",
            registry=registry,
            buckets=FIRST_TOKEN_BUCKETS,
        )
        self.duration = Histogram(
            "hybrid_stream_duration_seconds",
            "How long streams stayed open.",
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.deltas = counter("hybrid_stream_deltas", "Text deltas written to clients.")
        tokens = counter(
            "hybrid_tokens", "Tokens of completed answers as the provider reported them, by kind.", ("kind",)
        )
        self.prompt_tokens = tokens.labels("prompt")
        self.completion_tokens = tokens.labels("completion")
        self.provider_errors = counter(
            "hybrid_provider_errors",
            "Failed provider requests (each attempt, retried or not), by provider, HTTP status (`none` "
            "without one) and error type.",
            ("provider", "status", "type"),
        )
        self.wsgi_threads = gauge("hybrid_wsgi_threads", "Threads in the a2wsgi pool that runs Dash.")
        self.wsgi_busy = gauge("hybrid_wsgi_threads_busy", "a2wsgi threads running a Dash request now.")
        self.wsgi_queued = gauge("hybrid_wsgi_queued", "Dash requests waiting for an a2wsgi thread.")


@functools.cache
def _process_instruments() -> Instruments:
    """The one set of instruments of this process in multiprocess mode.

    There, values live in this process's files, keyed by metric name: two sets in one process would
    each write their own totals over the other's, so every app of the process counts on this one.
    """
    atexit.register(multiprocess.mark_process_dead, os.getpid())
    return Instruments(CollectorRegistry())


class Metrics(StreamHooks):
    """The metrics of one app: `StreamHooks` that count its streams, answers and provider failures.

    Each app has a registry of its own (apps in one process don't clash), except in multiprocess mode,
    where the apps of a process count together. Gauges sum over live workers there (`livesum`): a
    worker's files are dropped when it exits normally; a killed worker's open streams stay counted
    until the directory is emptied.
    """

    def __init__(self) -> None:
        self.instruments = _process_instruments() if multiprocess_mode() else Instruments(CollectorRegistry())

    def wsgi_pool(self, threads: int) -> CountingExecutor:
        """A pool of `threads` threads for Dash, counting its busy threads and the requests that wait."""
        self.instruments.wsgi_threads.set(threads)
        return CountingExecutor(threads, busy=self.instruments.wsgi_busy, queued=self.instruments.wsgi_queued)

    async def endpoint(self, request: Request) -> Response:
        """`GET /metrics`: the Prometheus text format, summed over workers in multiprocess mode."""
        registry = self.instruments.registry
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    def opened(self) -> None:
        self.instruments.started.inc()
        self.instruments.open.inc()

    def refused(self, error: ApiError) -> None:
        self.instruments.rejected.labels(str(error.status), error.type).inc()

    def closed(self, outcome: StreamOutcome) -> None:
        metric = self.instruments
        metric.open.dec()
        if outcome.status == "finished":
            metric.finished.inc()
        elif outcome.status == "cancelled":
            metric.cancelled.inc()
        else:
            metric.failed.labels(outcome.error or outcome.status).inc()
        if outcome.deltas:
            metric.deltas.inc(outcome.deltas)
        if outcome.first_delta_seconds is not None:
            metric.first_token.observe(outcome.first_delta_seconds)
        metric.duration.observe(outcome.duration_seconds)

    def completed(self, completion: Completion) -> None:
        usage = completion.usage
        if usage is not None:
            self.instruments.prompt_tokens.inc(usage.prompt_tokens)
            self.instruments.completion_tokens.inc(usage.completion_tokens)

    def provider_failed(self, provider: str, status: int | None, type: str) -> None:
        self.instruments.provider_errors.labels(
            provider, "none" if status is None else str(status), type
        ).inc()


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that keeps gauges of its busy threads and of the work waiting for one.

    Three gauge updates per Dash request; the stream endpoints never use this pool.
    """

    def __init__(self, threads: int, *, busy: Gauge, queued: Gauge) -> None:
        super().__init__(max_workers=threads, thread_name_prefix="WSGI")
        self._busy = busy
        self._queued = queued

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self._queued.inc()
        future = super().submit(self._run, fn, args, kwargs)
        future.add_done_callback(self._unqueue_if_cancelled)
        return future

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        self._queued.dec()
        self._busy.inc()
        try:
            return fn(*args, **kwargs)
        finally:
            self._busy.dec()

    def _unqueue_if_cancelled(self, future: Future[Any]) -> None:
        # A request abandoned while it waited never runs `_run`: it leaves the queue here instead.
        if future.cancelled():
            self._queued.dec()
