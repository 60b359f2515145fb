"""`Delivery`: how an admitted answer reaches its client when it does not stream straight to it.

`stream_endpoint` streams a source to the client that asked for it (`EventStreamResponse`), unless the
app serving it plugs in a delivery that takes the request: resumable answers (`hybrid._answers`) are
one, for clients that send `Hybrid-Resumable: 1`. The stream core knows deliveries only through this
protocol, so it imports nothing of theirs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from hybrid._streams.limits import Release
from hybrid._wire.sse import StreamEvent


class Delivery(Protocol):
    """Carries an admitted answer to its client in a way of its own."""

    def takes(self, request: Request) -> bool:
        """Whether this delivery serves `request` (a resumable one: when its client asked for it)."""
        ...

    async def deliver(
        self,
        source: AsyncIterator[StreamEvent],
        request: Request,
        *,
        release: Release,
        keepalive_seconds: float,
        send_timeout: float,
    ) -> Response:
        """The response that carries `source` to the client. From now on the delivery holds the
        request's places and gives them back (`release`) when the answer ends, which may be after this
        response ends."""
        ...
