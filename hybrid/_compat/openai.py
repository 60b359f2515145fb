"""The answer's body straight from aiohttp, under the openai SDK. Checked against openai 3.50 to 3.63
(its vendored `httpx_aiohttp` transport) and httpx2 2.12 to 2.17.

With `openai.DefaultAioHttpClient` the SDK hands each request to aiohttp; the response's body is then
four nested byte iterators deep. Reading aiohttp's `StreamReader` directly (`readany`) is the cheapest
read there is (`benchmarks/upstream_stack.py`). No public API leads to it: httpx2 keeps the transport's
stream as `BoundAsyncStream._stream`, and the SDK's transport keeps its `ClientResponse` as
`AiohttpResponseStream._aiohttp_response`. When either moves, the provider reads through httpx2 instead
(slower, still right), and `tests/compat/test_openai.py` fails, naming this module.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2

CHECKED = ("openai 3.50-3.63", "httpx2 2.12-2.17")


def aiohttp_content(response: httpx2.Response) -> aiohttp.StreamReader | None:
    """aiohttp's `StreamReader` behind `response`, or None (another transport, or an encoded body: the
    transport leaves decompression to httpx2)."""
    if response.headers.get("content-encoding", "identity") != "identity":
        return None
    stream: Any = getattr(response.stream, "_stream", None)
    aiohttp_response = getattr(stream, "_aiohttp_response", None)
    return aiohttp_response.content if isinstance(aiohttp_response, aiohttp.ClientResponse) else None
