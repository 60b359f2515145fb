"""A lean load generator: raw asyncio protocols on uvloop, SSE parsed by scanning bytes.

Each stream is one connection (`Connection: close`, as `EventSource` opens them). An event is counted
where `data: ` appears, which holds for every contender's framing (LF or CRLF, chunked or not) because the
benchmark token never contains it. Events that arrive in one read share one timestamp.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from benchmarks import tokens

_DATA = b"data: "
_DONE = b"[DONE]"
HOST = "127.0.0.1"


@dataclass(slots=True)
class StreamResult:
    """What one stream saw, in seconds of `time.perf_counter()`."""

    start: float
    first: float | None = None
    last: float | None = None
    events: int = 0
    done: bool = False
    error: str | None = None
    gaps: list[float] = field(default_factory=list)

    @property
    def ttft(self) -> float | None:
        return None if self.first is None else self.first - self.start


class _StreamProtocol(asyncio.Protocol):
    """Reads one SSE response; counts events and timestamps them."""

    def __init__(self, request: bytes, result: StreamResult, finished: asyncio.Future[None]) -> None:
        self.request = request
        self.result = result
        self.finished = finished
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        chunk = self.tail + data
        self.tail = chunk[-5:]  # shorter than the markers: nothing is counted twice
        count = chunk.count(_DATA)
        result = self.result
        if not result.done and _DONE in chunk:
            result.done = True
            if b"data: [DONE]" in chunk:
                count -= 1
            else:  # its `data: ` came in the previous read and was counted as a token
                result.events -= 1
                if result.gaps:
                    result.gaps.pop()
        if count > 0:
            if result.last is None:
                result.first = now
            else:
                result.gaps.append(now - result.last)
            if count > 1:
                result.gaps.extend([0.0] * (count - 1))
            result.events += count
            result.last = now
        if result.done and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.result.error is None and not self.result.done:
            self.result.error = type(exc).__name__
        if not self.finished.done():
            self.finished.set_result(None)

    def abort(self) -> None:
        """Leave the way a browser tab does: close our side (FIN) without reading on."""
        if self.transport is not None:
            self.transport.close()


def stream_request(plan: tokens.Plan) -> bytes:
    path = f"{tokens.STREAM_PATH}?n={plan.n}&ms={plan.ms:g}&wait={plan.wait_ms:g}"
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    return head.encode()


class StreamSet:
    """Many streams against one port, opened on a schedule and all bounded by a deadline."""

    def __init__(self, port: int, plan: tokens.Plan | bytes | list[bytes]) -> None:
        """`plan` is the token plan, one raw request for every stream, or one raw request per stream."""
        self.port = port
        if isinstance(plan, tokens.Plan):
            plan = stream_request(plan)
        self.requests = plan if isinstance(plan, list) else None
        self.request = plan if isinstance(plan, bytes) else b""
        self.results: list[StreamResult] = []
        self.protocols: list[_StreamProtocol] = []
        self.finished: list[asyncio.Future[None]] = []

    async def open(self, count: int, spread_s: float = 0.0) -> None:
        """Open `count` streams, their starts spread evenly over `spread_s` seconds."""
        loop = asyncio.get_running_loop()
        begin = time.perf_counter()
        pending = []
        for index in range(count):
            due = begin + spread_s * index / max(count, 1)
            delay = due - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            pending.append(loop.create_task(self._open_one(loop)))
        await asyncio.gather(*pending)

    async def _open_one(self, loop: asyncio.AbstractEventLoop) -> None:
        request = self.requests[len(self.results)] if self.requests else self.request
        result = StreamResult(start=time.perf_counter())
        finished = loop.create_future()
        self.results.append(result)
        self.finished.append(finished)
        try:
            _, protocol = await loop.create_connection(
                lambda: _StreamProtocol(request, result, finished), HOST, self.port
            )
            self.protocols.append(protocol)
        except OSError as exc:
            result.error = type(exc).__name__
            finished.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """Wait until every stream has ended; False (and the rest aborted) when `timeout` ran out."""
        if not self.finished:
            return True
        _, pending = await asyncio.wait(self.finished, timeout=timeout)
        if pending:
            for result in self.results:
                if not result.done and result.error is None:
                    result.error = "timeout"
            self.abort()
        return not pending

    async def wait_first_events(self, timeout: float) -> bool:
        """Wait until every stream has received its first event."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(r.first is not None or r.error for r in self.results):
                return True
            await asyncio.sleep(0.02)
        return False

    def abort(self) -> None:
        for protocol in self.protocols:
            protocol.abort()


@dataclass(slots=True)
class RequestStats:
    """Closed-loop HTTP requests: latencies (s), failures, and the window they ran in."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    seconds: float = 0.0


async def _http_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[bool, bool]:
    """Send one request, read its response: (status 200, connection kept alive)."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status_ok = head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
    lower = head.lower()
    if b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        index = lower.find(b"content-length:")
        length = int(lower[index + 15 : lower.index(b"\r\n", index)]) if index >= 0 else 0
        await reader.readexactly(length)
    return status_ok, b"connection: close" not in lower


def http_request(
    method: str, path: str, body: bytes = b"", content_type: str = "application/json", close: bool = False
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n" + ("Connection: close\r\n" if close else "")
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def closed_loop(
    port: int, requests: list[bytes], clients: int, seconds: float, stats: RequestStats | None = None
) -> RequestStats:
    """`clients` keep-alive connections each sending `requests` round-robin, back to back, for `seconds`."""
    stats = stats or RequestStats()
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        index = offset
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    ok, alive = await asyncio.wait_for(
                        _http_request(reader, writer, requests[index % len(requests)]),
                        max(deadline - began, 0) + 10,
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError):
                    stats.failures += 1
                    return
                stats.latencies.append(time.perf_counter() - began)
                if not ok:
                    stats.failures += 1
                index += 1
                if not alive:  # werkzeug answers `Connection: close`: reconnect, as a browser would
                    writer.close()
                    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    stats.seconds = time.perf_counter() - began
    return stats


def run(main: Callable[[], Awaitable[object]]) -> object:
    """Run a load coroutine on a fresh uvloop event loop."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())


def pct(values: list[float] | np.ndarray, q: float) -> float | None:
    """The q-th percentile in milliseconds (None for no values)."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values), q) * 1000)


def summarize_streams(
    results: list[StreamResult], expected_events: int | None = None
) -> dict[str, float | int | None]:
    """TTFT and ITL (pooled gaps between events, vLLM's definition) over a set of streams, in ms."""
    ttfts = [r.ttft for r in results if r.ttft is not None]
    gaps = np.fromiter((g for r in results for g in r.gaps), dtype=float)
    complete = [r for r in results if r.done and (expected_events is None or r.events == expected_events)]
    return {
        "streams": len(results),
        "complete": len(complete),
        "errors": sum(1 for r in results if r.error),
        "events": sum(r.events for r in results),
        "ttft_p50_ms": pct(ttfts, 50),
        "ttft_p90_ms": pct(ttfts, 90),
        "ttft_p99_ms": pct(ttfts, 99),
        "ttft_max_ms": pct(ttfts, 100),
        "itl_p50_ms": pct(gaps, 50),
        "itl_p99_ms": pct(gaps, 99),
        "itl_max_ms": pct(gaps, 100),
    }


def goodput(results: list[StreamResult], ttft_ms: float, gap_ms: float, expected_events: int) -> int:
    """Streams that completed within the SLO on their own: TTFT and their p99 gap under the limits."""
    good = 0
    for r in results:
        if not r.done or r.events != expected_events or r.ttft is None or r.ttft * 1000 > ttft_ms:
            continue
        if r.gaps and np.percentile(r.gaps, 99) * 1000 > gap_ms:
            continue
        good += 1
    return good
