"""The HTTP under the provider: the SDK's aiohttp transport, and the cheapest way to read an answer's body.

The SDK builds and sends every request (auth, base URL, Azure's deployment URLs and `api-version`,
status errors) through its `httpx2` client; with `openai.DefaultAioHttpClient` that client hands the
request to aiohttp. The answer's body is then read straight from aiohttp's `StreamReader` (`readany`:
whatever has arrived, in one piece) instead of through httpx2's four nested byte iterators
(`hybrid._compat.openai`). `benchmarks/upstream_stack.py` measured the choice (numbers in the benchmark
report).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import httpx2
import openai

from hybrid._compat.openai import aiohttp_content

BodyRead = Callable[[], Awaitable[bytes]]
"""Reads what has arrived of a body (at least one byte), or b"" once it has ended."""

READ_ERRORS = (httpx2.RequestError, aiohttp.ClientError)
"""What reading a body can raise when the connection breaks, on either path."""

LIMITS = httpx2.Limits(max_connections=2000, max_keepalive_connections=1000, keepalive_expiry=30.0)
"""Upstream connections: one per answer streaming; kept alive for the next answers."""


def http_client() -> httpx2.AsyncClient:
    """The SDK's HTTP client on aiohttp, for `openai.AsyncOpenAI(http_client=...)`."""
    return openai.DefaultAioHttpClient(limits=LIMITS)


def refused(exc: BaseException) -> bool:
    """Whether `exc` (an SDK timeout) was a connection refused or reset rather than slow: the SDK's
    aiohttp transport reports every `aiohttp.ClientConnectionError` as `httpx2.ConnectTimeout`."""
    for cause in _chain(exc):
        if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
            return True
    return False


def body_reader(response: httpx2.Response) -> BodyRead:
    """The fastest reader of `response`'s body: aiohttp's own when the SDK used its aiohttp transport."""
    content = aiohttp_content(response)
    return content.readany if content is not None else httpx2_reader(response)


def httpx2_reader(response: httpx2.Response) -> BodyRead:
    """Read `response` through httpx2's decoded byte iterator (any transport, any content encoding)."""
    chunks = response.aiter_bytes()

    async def read() -> bytes:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return b""

    return read


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    return seen
