"""`Frames`: the numbered SSE frames of one answer, in memory, for whoever reads them."""

from __future__ import annotations

import asyncio

from hybrid._wire import sse


class FramesGone(Exception):
    """The frames a reader asked for were dropped: the answer is longer than the buffer keeps."""


class Frames:
    """One answer's frames, numbered from 1, and an event that wakes its readers when more come.

    It keeps at least the last `limit` frames and fewer than twice as many: older ones are dropped in
    blocks, so an append costs O(1) amortised and a reader's position is one subtraction.
    """

    __slots__ = ("_first", "_frames", "_limit", "_waiters", "bytes", "ended")

    def __init__(self, limit: int) -> None:
        self._frames: list[bytes] = []
        self._first = 1  # the number of `_frames[0]`
        self._limit = limit
        self._waiters: list[asyncio.Future[None]] = []  # readers waiting for the next append
        self.bytes = 0
        """The size of the frames held now."""
        self.ended = False
        """Whether the answer's last frame (its `[DONE]`) is in."""

    @property
    def first(self) -> int:
        """The number of the oldest frame kept (the next one's, before any)."""
        return self._first

    @property
    def last(self) -> int:
        """The number of the newest frame (0 before the first)."""
        return self._first + len(self._frames) - 1

    def append(self, chunk: bytes) -> list[bytes]:
        """Number the SSE events of `chunk` as the next frames, keep them and wake the readers."""
        held = self._frames
        frames = sse.numbered(chunk, self._first + len(held))
        held.extend(frames)
        self.bytes += sum(map(len, frames))
        if len(held) >= 2 * self._limit:
            dropped = len(held) - self._limit
            self.bytes -= sum(map(len, held[:dropped]))
            del held[:dropped]
            self._first += dropped
        if self._waiters:  # once per token: plain futures, cheaper than an asyncio.Event
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():  # a reader that left meanwhile cancelled its own
                    waiter.set_result(None)
        return frames

    def end(self, chunk: bytes) -> list[bytes]:
        """Append the answer's last frames (they end with `[DONE]`); nothing may follow them."""
        self.ended = True
        return self.append(chunk)

    def since(self, after: int) -> list[bytes]:
        """The frames numbered after `after` held now; `FramesGone` when some of them were dropped."""
        if after + 1 < self._first:
            raise FramesGone(after)
        return self._frames[after + 1 - self._first :]

    async def changed(self) -> None:
        """Wait for the next append."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter
