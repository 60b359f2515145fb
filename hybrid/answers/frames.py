"""`Frames`: the numbered SSE frames of one answer, in memory, for whoever reads them."""

from __future__ import annotations

import asyncio

from hybrid import sse


class FramesGone(Exception):
    """The frames a reader asked for were dropped: the answer is longer than the buffer keeps."""


class Frames:
    """One answer's frames, numbered from 1, and an event that wakes its readers when more come.

    It keeps at least the last `limit` frames and fewer than twice as many: older ones are dropped in
    blocks, so an append costs O(1) amortised and a reader's position is one subtraction.
    """

    __slots__ = ("_changed", "_first", "_frames", "_limit", "bytes", "ended")

    def __init__(self, limit: int) -> None:
        self._frames: list[bytes] = []
        self._first = 1  # the number of `_frames[0]`
        self._limit = limit
        self._changed = asyncio.Event()
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
        frames = sse.numbered(chunk, self._first + len(self._frames))
        held = self._frames
        held.extend(frames)
        for frame in frames:
            self.bytes += len(frame)
        if len(held) >= 2 * self._limit:
            dropped = len(held) - self._limit
            self.bytes -= sum(map(len, held[:dropped]))
            del held[:dropped]
            self._first += dropped
        changed = self._changed
        changed.set()
        changed.clear()
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
        await self._changed.wait()
