"""A load generator that checks every answer: each stream must deliver every token, in order, once.

One raw asyncio protocol per stream (uvloop), the HTTP response parsed by httptools (chunked or not),
the SSE body by splitting on blank lines. Plain messages are the answer's text; `[DONE]` ends it; named
events (`completion`, `error`) are read too. A stream is `completed` only if its text is exactly the
expected text and it ended with `[DONE]` (and, where the server sends one, a `completion` event naming
every token); anything else is `failed`, with the tokens it lost or duplicated counted by diffing the
token sequences. Token arrival times are per token, not per event: an event that carries several
tokens (deltas that arrived together upstream) gives the first its gap and the others a gap of 0.
"""

from __future__ import annotations

import asyncio
import bisect
import difflib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httptools

HOST = "127.0.0.1"


@dataclass(slots=True)
class Stream:
    """What one stream saw; times are `time.perf_counter()` seconds."""

    start: float
    status: int | None = None
    first: float | None = None
    last: float | None = None
    text: list[str] = field(default_factory=list)
    received: int = 0
    """Characters of text received so far."""
    tokens: int = 0
    """Expected tokens fully received so far."""
    events: int = 0
    """Plain (text) messages."""
    done: bool = False
    completion: dict[str, Any] | None = None
    error: str | None = None
    gaps: list[float] = field(default_factory=list)


class _Reader(asyncio.Protocol):
    def __init__(self, request: bytes, stream: Stream, ends: list[int], finished: asyncio.Future[None]):
        self.request = request
        self.stream = stream
        self.ends = ends  # cumulative character offsets at which each expected token ends
        self.finished = finished
        self.parser = httptools.HttpResponseParser(self)
        self.pending = b""
        self.now = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.now = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(f"http: {exc}")

    def on_headers_complete(self) -> None:
        self.stream.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        stream = self.stream
        if stream.status != 200:
            return
        blocks = (self.pending + body).split(b"\n\n")
        self.pending = blocks.pop()
        before = stream.tokens
        for block in blocks:
            self._event(block)
        if stream.tokens > before:
            now = self.now
            if stream.first is None:
                stream.first = now
            else:
                stream.gaps.append(now - stream.last)  # type: ignore[operator]
            stream.gaps.extend([0.0] * (stream.tokens - before - 1))
            stream.last = now

    def _event(self, block: bytes) -> None:
        stream = self.stream
        name, data = None, []
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                data.append(line[6:])
            elif line.startswith(b"event: "):
                name = line[7:].decode()
        if not data:
            return  # a comment (keep-alive)
        payload = b"\n".join(data).decode()
        if name is None:
            if payload == "[DONE]":
                stream.done = True
                return
            if stream.done:
                self._fail("text after [DONE]")
            stream.events += 1
            stream.text.append(payload)
            stream.received += len(payload)
            stream.tokens = bisect.bisect_right(self.ends, stream.received)
        elif name == "completion":
            stream.completion = json.loads(payload)
        elif name == "error":
            stream.error = stream.error or "error event: " + payload

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _fail(self, reason: str) -> None:
        self.stream.error = self.stream.error or reason
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None and self.stream.error is None and not self.stream.done:
            self.stream.error = type(exc).__name__
        if not self.finished.done():
            self.finished.set_result(None)


def post(path: str, body: dict[str, Any]) -> bytes:
    """One `POST` of a JSON body that closes its connection (as a browser's stream does, alone)."""
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + payload


async def run(port: int, requests: list[bytes], expected: list[str], spread_s: float, timeout: float):
    """Open one stream per request, their starts spread over `spread_s`; wait for all (or `timeout`)."""
    loop = asyncio.get_running_loop()
    ends, total = [], 0
    for token in expected:
        total += len(token)
        ends.append(total)
    streams: list[Stream] = []
    finished: list[asyncio.Future[None]] = []
    protocols: list[_Reader] = []

    async def open_one(request: bytes) -> None:
        stream = Stream(start=time.perf_counter())
        done = loop.create_future()
        streams.append(stream)
        finished.append(done)
        try:
            _, reader = await loop.create_connection(lambda: _Reader(request, stream, ends, done), HOST, port)
            protocols.append(reader)
        except OSError as exc:
            stream.error = type(exc).__name__
            done.set_result(None)

    begin = time.perf_counter()
    openers = []
    for index, request in enumerate(requests):
        delay = begin + spread_s * index / len(requests) - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        openers.append(loop.create_task(open_one(request)))
    await asyncio.gather(*openers)
    _, pending = await asyncio.wait(finished, timeout=timeout)
    for stream in streams:
        if not stream.done and stream.error is None and pending:
            stream.error = "timeout"
    for reader in protocols:
        if reader.transport is not None and not reader.transport.is_closing():
            reader.transport.abort()
    return streams


@dataclass(slots=True)
class Fidelity:
    """How many streams did what, and what their text lost or repeated."""

    opened: int = 0
    completed: int = 0
    refused: int = 0
    failed: int = 0
    lost_tokens: int = 0
    duplicated_tokens: int = 0
    tokens: int = 0
    events: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.failed or self.refused or self.lost_tokens or self.duplicated_tokens)


def check(streams: list[Stream], expected: list[str], *, completion: bool) -> Fidelity:
    """Every stream against the expected tokens; `completion`: the server must send its usage event."""
    whole = "".join(expected)
    fidelity = Fidelity()
    for stream in streams:
        if stream.status is not None and stream.status != 200:
            fidelity.refused += 1
            continue
        if stream.status is not None:
            fidelity.opened += 1
        text = "".join(stream.text)
        fidelity.tokens += stream.tokens
        fidelity.events += stream.events
        problem = stream.error
        if text != whole:
            got = _split(text)
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
                None, expected, got, autojunk=False
            ).get_opcodes():
                if tag in ("delete", "replace"):
                    fidelity.lost_tokens += i2 - i1
                if tag in ("insert", "replace"):
                    fidelity.duplicated_tokens += j2 - j1
            problem = problem or "text differs"
        elif not stream.done:
            problem = problem or "no [DONE]"
        elif completion and (stream.completion or {}).get("completion_tokens") != len(expected):
            problem = problem or f"completion event {stream.completion}"
        if problem:
            fidelity.failed += 1
            key = problem.split(":")[0][:60]
            fidelity.errors[key] = fidelity.errors.get(key, 0) + 1
        else:
            fidelity.completed += 1
    return fidelity


def _split(text: str) -> list[str]:
    """The simulator's tokens: words split on spaces, each after the first keeping its leading space."""
    words = text.split(" ")
    return [words[0], *(" " + word for word in words[1:])] if text else []
