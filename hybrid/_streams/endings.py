"""How a stream's source ends: what the client is sent after it (its `[DONE]`, or why it stopped), and
closing it so that whatever it holds (an upstream request) is released at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from hybrid._errors import StreamError
from hybrid._wire import sse
from hybrid._wire.sse import GENERIC_FAILURE

logger = logging.getLogger("hybrid.stream")


def source_ending(exc: BaseException | None) -> tuple[bytes, str | None]:
    """What a stream ends with after its source ended (`exc` None) or raised: the bytes and error type.

    A `StreamError` shows its own sentence; anything else is logged with its traceback and shown as a
    generic failure, so internal details never reach the page.
    """
    if exc is None:
        return sse.DONE, None
    if isinstance(exc, StreamError):
        logger.warning("stream failed: %s", exc.message)
        return sse.failure(exc.type, exc.message), exc.type
    logger.error("stream failed", exc_info=exc)
    return sse.failure("internal_error", GENERIC_FAILURE), "internal_error"


async def close_source(source: AsyncIterator[Any]) -> None:
    """Close `source` (an async generator's `finally` runs; an upstream request closes), if it can be."""
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        await aclose()
