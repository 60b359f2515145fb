"""The one token source every contender streams: same tokens, same payload, same cadence.

A stream is `n` events of `TOKEN` (or of given text), the first after `wait_ms`, then one every `ms`
milliseconds on an absolute schedule (no drift). `ms=0` means back to back. The async and sync flavours
differ only in how they sleep; `active` counts the generators alive in this process (read by the
disconnect scenario).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TOKEN = " token"
"""The delta every event carries: 6 characters, about one English token."""

STREAM_PATH = "/bench/stream"
CHAT_PATH = "/bench/chat"
"""The SDK recipes' chat route (`benchmarks.apps.*_proxy`)."""
ACTIVE_PATH = "/bench/active"

active = 0
"""Token generators alive in this process (started, not yet closed)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How one stream is paced, from its query string."""

    n: int = 50
    ms: float = 20.0
    wait_ms: float = 0.0

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Plan:
        return cls(
            n=min(int(query.get("n", 50)), 1_000_000),
            ms=float(query.get("ms", 20.0)),
            wait_ms=float(query.get("wait", 0.0)),
        )


async def atokens(plan: Plan, text: Sequence[str] = ()) -> AsyncIterator[str]:
    """The stream's deltas for asyncio servers: `TOKEN`, or `text[i]` when `text` is given."""
    global active
    active += 1
    try:
        loop = asyncio.get_running_loop()
        due = loop.time() + plan.wait_ms / 1000
        step = plan.ms / 1000
        for index in range(plan.n):
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif index and step == 0 and index % 64 == 0:
                await asyncio.sleep(0)  # back to back, but let other streams in now and then
            yield text[index] if text else TOKEN
            due += step
    finally:
        active -= 1


def tokens(plan: Plan) -> Iterator[str]:
    """The stream's deltas for thread and gevent servers (gevent patches `time.sleep`)."""
    global active
    active += 1
    try:
        due = time.monotonic() + plan.wait_ms / 1000
        step = plan.ms / 1000
        for _ in range(plan.n):
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield TOKEN
            due += step
    finally:
        active -= 1


def sse_message(delta: str) -> bytes:
    """The wire form of one delta for contenders that do not use `hybrid.sse`: one message, every line
    of the delta on its own `data:` line, as the SSE standard (and hybrid) frame it."""
    return ("data: " + delta.replace("\n", "\ndata: ") + "\n\n").encode()


DONE = b"data: [DONE]\n\n"


def content(chunk: Any) -> str | None:
    """The text delta of one of the openai SDK's `ChatCompletionChunk`s (None when it carries none)."""
    return chunk.choices[0].delta.content if chunk.choices else None
