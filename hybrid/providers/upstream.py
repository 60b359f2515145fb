"""The HTTP under the provider: the SDK's aiohttp transport, and the cheapest way to read an answer's body.

The SDK builds and sends every request (auth, base URL, Azure's deployment URLs and `api-version`,
status errors) through its `httpx2` client; with `openai.DefaultAioHttpClient` that client hands the
request to aiohttp. The answer's body is then read straight from aiohttp's `StreamReader` (`readany`:
whatever has arrived, in one piece) instead of through httpx2's four nested byte iterators.
`benchmarks/upstream_stack.py` measured the choice (numbers in the README).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx2
import openai
from openai._vendor.httpx_aiohttp import AiohttpTransport as VendoredAiohttpTransport

BodyRead = Callable[[], Awaitable[bytes]]
"""Reads what has arrived of a body (at least one byte), or b"" once it has ended."""

READ_ERRORS = (httpx2.RequestError, aiohttp.ClientError)
"""What reading a body can raise when the connection breaks, on either path."""

LIMITS = httpx2.Limits(max_connections=2000, max_keepalive_connections=1000, keepalive_expiry=30.0)
"""Upstream connections: one per answer streaming; kept alive for the next answers."""


def http_client() -> httpx2.AsyncClient:
    """The SDK's HTTP client on aiohttp, for `openai.AsyncOpenAI(http_client=...)`."""
    return openai.DefaultAioHttpClient(limits=LIMITS, transport=AiohttpTransport(limits=LIMITS))


class AiohttpTransport(VendoredAiohttpTransport):
    """The SDK's aiohttp transport, with failed connections reported as failed rather than as slow.

    It maps every `aiohttp.ClientConnectionError` to `httpx2.ConnectTimeout`: a refused connection
    would tell the user "could not connect in time" and `/readyz` "APITimeoutError".
    """

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await super().handle_async_request(request)
        except httpx2.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientError) and not isinstance(cause, TimeoutError):
                raise httpx2.ConnectError(str(exc), request=request) from cause
            raise


def body_reader(response: httpx2.Response) -> BodyRead:
    """The fastest reader of `response`'s body: aiohttp's own when the SDK used its aiohttp transport."""
    content = _aiohttp_content(response)
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


def _aiohttp_content(response: httpx2.Response) -> Any:
    """aiohttp's `StreamReader` behind `response`, or None (another transport, or an encoded body).

    httpx2 wraps the transport's stream (`BoundAsyncStream._stream`); the SDK's vendored aiohttp
    transport keeps its `ClientResponse` (`AiohttpResponseStream._aiohttp_response`). A test checks
    that this path is taken, so an SDK that renames them is noticed rather than silently slower.
    """
    if response.headers.get("content-encoding", "identity") != "identity":
        return None  # the transport leaves decompression to httpx2 (`auto_decompress=False`)
    stream = getattr(response.stream, "_stream", None)
    aiohttp_response = getattr(stream, "_aiohttp_response", None)
    return aiohttp_response.content if isinstance(aiohttp_response, aiohttp.ClientResponse) else None
