"""A lean load generator: raw asyncio protocols on uvloop, SSE read by scanning bytes, every outcome kept.

Each stream is one connection (`Connection: close`, as `EventSource` opens them). The status line is
parsed, so a refusal (429, 503, ...) is told from a stream. In the body, a message is counted at its
terminating blank line; named events (`event: ...`), comments (`: keep-alive`) and `data: [DONE]` are
messages too but not tokens, so a token is one plain message whatever its lines. That holds for every
contender's framing (LF framing, chunked or not: chunk-size lines never form a blank line), and a
multi-line delta (`data: a\\ndata: b`) is still one token. Tokens that arrive in one read share a timestamp.

A server may also send deltas that reached it together as one message (hybrid does): then messages are
fewer than tokens. Where the answer's text is known (the chat scenarios), a stream keeps its body and
`check_text` counts the tokens by the text that arrived, after the run, off the clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks import tokens

HOST = "127.0.0.1"
_HEAD_END = b"\r\n\r\n"
_MESSAGE_END = b"\n\n"
_NAMED = b"\nevent: "  # markers of a line start with its line break; the body starts after one
_ERROR = b"\nevent: error\n"
_COMMENT = b"\n:"
_DONE = b"\ndata: [DONE]\n\n"
_TAIL = len(_DONE) - 1  # bytes kept from the previous read, so a marker split across reads is found once
_MAX_HEAD = 65_536


@dataclass(slots=True)
class StreamResult:
    """What one stream saw, in seconds of `time.perf_counter()`."""

    start: float
    connected: bool = False
    status: int | None = None
    """The response's HTTP status (None: no status line arrived)."""
    first: float | None = None
    last: float | None = None
    tokens: int = 0
    done: bool = False
    error_event: bool = False
    """The server sent `event: error` (hybrid's way to end a failed answer before `[DONE]`)."""
    left: bool = False
    """The load generator closed it (on purpose, or at the scenario's deadline)."""
    error: str | None = None
    """Why it broke, when it did: `connect: ...`, `timeout`, or the exception that closed it."""
    gaps: list[float] = field(default_factory=list)
    body: bytearray | None = None
    """The response body as it came (chunked or not), when the scenario checks the text (`check_text`)."""
    chunked: bool = False

    @property
    def ttft(self) -> float | None:
        """Time to the first token (named events such as hybrid's `meta` do not count)."""
        return None if self.first is None else self.first - self.start


class _Markers:
    """Counts of what a body held so far; each `feed` counts only markers that end in the new bytes."""

    __slots__ = ("comments", "done", "errors", "messages", "named", "tail")

    def __init__(self) -> None:
        self.tail = b"\n"  # the body's first line starts after a line break too
        self.messages = self.named = self.comments = self.errors = self.done = 0

    def feed(self, data: bytes) -> int:
        """Count `data`; return the tokens seen so far (never counting a marker twice)."""
        chunk = self.tail + data
        kept = len(self.tail)
        self.messages += chunk.count(_MESSAGE_END, max(kept - len(_MESSAGE_END) + 1, 0))
        self.named += chunk.count(_NAMED, max(kept - len(_NAMED) + 1, 0))
        self.errors += chunk.count(_ERROR, max(kept - len(_ERROR) + 1, 0))
        self.comments += chunk.count(_COMMENT, max(kept - len(_COMMENT) + 1, 0))
        self.done += chunk.count(_DONE, max(kept - len(_DONE) + 1, 0))
        self.tail = chunk[-_TAIL:]
        return self.messages - self.named - self.comments - self.done


class _StreamProtocol(asyncio.Protocol):
    """Reads one SSE response: its status, then its tokens, each timestamped."""

    def __init__(self, request: bytes, result: StreamResult, finished: asyncio.Future[None]) -> None:
        self.request = request
        self.result = result
        self.finished = finished
        self.head: bytes | None = b""  # None once the head has been read
        self.markers = _Markers()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.result.connected = True
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        result = self.result
        if self.head is not None:
            data = self._read_head(data)
            if self.head is not None or result.status != 200:
                return
        if result.body is not None:
            result.body += data
        markers = self.markers
        seen = markers.feed(data)
        if seen > result.tokens:
            if result.last is None:
                result.first = now
            else:
                result.gaps.append(now - result.last)
            result.gaps.extend([0.0] * (seen - result.tokens - 1))
            result.tokens = seen
            result.last = now
        if markers.errors:
            result.error_event = True
        if markers.done and not result.done:
            result.done = True
            if self.transport is not None:
                self.transport.close()

    def _read_head(self, data: bytes) -> bytes:
        """Collect the response head; once complete, record the status and return the body's bytes."""
        head = self.head + data  # type: ignore[operator]
        end = head.find(_HEAD_END)
        if end < 0:
            self.head = head
            if len(head) > _MAX_HEAD and self.transport is not None:
                self.result.error = "malformed head"
                self.transport.close()
            return b""
        self.head = None
        self.result.chunked = b"\r\ntransfer-encoding: chunked" in head[:end].lower()
        line = head[: head.find(b"\r\n")].split(b" ", 2)
        try:
            self.result.status = int(line[1])
        except (IndexError, ValueError):
            self.result.error = "malformed head"
        if self.result.status != 200 and self.transport is not None:
            self.transport.close()  # a refusal: its body is not a stream
        return head[end + len(_HEAD_END) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.result.error is None and not self.result.done:
            self.result.error = type(exc).__name__
        if not self.finished.done():
            self.finished.set_result(None)

    def leave(self) -> None:
        """Leave the way a browser tab does: close our side (FIN) without reading on."""
        if not self.finished.done():
            self.result.left = True
        if self.transport is not None:
            self.transport.close()


def check_text(results: list[StreamResult], answer: Sequence[str]) -> None:
    """Judge each ended stream by its text: the plain messages' data must be `answer`, whole, in order,
    once, however the deltas were framed. A stream whose text is right counts every token of `answer`;
    one whose text is wrong fails (`error`)."""
    expected = "".join(answer)
    for result in results:
        if result.body is None or not result.done or result.error is not None:
            continue
        body = _dechunk(bytes(result.body)) if result.chunked else bytes(result.body)
        if _sse_text(body) == expected:
            result.tokens = len(answer)
        else:
            result.error = "wrong text"


def _dechunk(body: bytes) -> bytes:
    out, at = bytearray(), 0
    while True:
        end = body.find(b"\r\n", at)
        if end < 0:
            return bytes(out)
        size = int(body[at:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def _sse_text(body: bytes) -> str:
    """The text of an SSE body: its plain messages' data lines (not named events, comments or `[DONE]`)."""
    text = []
    for message in body.decode().replace("\r\n", "\n").split("\n\n"):
        lines = message.split("\n")
        if any(line.startswith("event:") for line in lines):
            continue
        data = [line[5:].removeprefix(" ") for line in lines if line.startswith("data:")]
        if data and data != ["[DONE]"]:
            text.append("\n".join(data))
    return "".join(text)


def stream_request(plan: tokens.Plan) -> bytes:
    path = f"{tokens.STREAM_PATH}?n={plan.n}&ms={plan.ms:g}&wait={plan.wait_ms:g}"
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    return head.encode()


class StreamSet:
    """Many streams against one port, opened on a schedule and all bounded by a deadline."""

    def __init__(
        self, port: int, plan: tokens.Plan | bytes | list[bytes], *, keep_bodies: bool = False
    ) -> None:
        """`plan` is the token plan, one raw request for every stream, or one raw request per stream;
        `keep_bodies` keeps each response's body for `check_text`."""
        self.port = port
        self.keep_bodies = keep_bodies
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
        result = StreamResult(start=time.perf_counter(), body=bytearray() if self.keep_bodies else None)
        finished = loop.create_future()
        self.results.append(result)
        self.finished.append(finished)
        try:
            _, protocol = await loop.create_connection(
                lambda: _StreamProtocol(request, result, finished), HOST, self.port
            )
            self.protocols.append(protocol)
        except OSError as exc:
            result.error = f"connect: {type(exc).__name__}"
            finished.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """Wait until every stream has ended; False when `timeout` ran out (the rest are left, timed out)."""
        if not self.finished:
            return True
        _, pending = await asyncio.wait(self.finished, timeout=timeout)
        if pending:
            for protocol in self.protocols:
                if not protocol.finished.done():
                    protocol.result.error = "timeout"
            self.leave()
        return not pending

    async def wait_first_tokens(self, timeout: float) -> bool:
        """Wait until every stream has received its first token or ended."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(r.first is not None or f.done() for r, f in zip(self.results, self.finished, strict=True)):
                return True
            await asyncio.sleep(0.02)
        return False

    def leave(self) -> None:
        """Close every stream still open from this side (see `_StreamProtocol.leave`)."""
        for protocol in self.protocols:
            protocol.leave()


@dataclass(slots=True)
class RequestStats:
    """Closed-loop HTTP requests: latencies (s), statuses and errors, and the window they ran in."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


async def _http_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bool]:
    """Send one request, read its response: (status, connection kept alive)."""
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
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
    return status, b"connection: close" not in lower


def http_request(
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
    close: bool = False,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n" + ("Connection: close\r\n" if close else "")
    head += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    if body or method == "POST":
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def closed_loop(
    port: int, requests: list[bytes], clients: int, seconds: float, stats: RequestStats | None = None
) -> RequestStats:
    """`clients` keep-alive connections each sending `requests` round-robin, back to back, for `seconds`.

    A client whose request breaks (time-out, reset, malformed answer) records why and stops.
    """
    stats = stats or RequestStats()
    deadline = time.perf_counter() + seconds

    async def client(offset: int) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
        except OSError as exc:
            stats.errors[f"connect: {type(exc).__name__}"] += 1
            return
        index = offset
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    status, alive = await asyncio.wait_for(
                        _http_request(reader, writer, requests[index % len(requests)]),
                        max(deadline - began, 0) + 10,
                    )
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    stats.errors[type(exc).__name__] += 1
                    return
                stats.latencies.append(time.perf_counter() - began)
                stats.statuses[status] += 1
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
