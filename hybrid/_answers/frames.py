"""`Frames`: the numbered SSE frames of one answer, in memory, for whoever reads them.

The worker generating an answer numbers its events into frames here; a worker following another's answer
through the shared log adds the frames it reads, numbered already. Either way its local readers read them
from here (`read`), however many they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from hybrid._errors import StreamError
from hybrid._wire import sse


class FramesGone(Exception):
    """The frames a reader asked for were dropped: the answer is longer than the buffer keeps."""


class Frames:
    """One answer's frames, numbered from `first` (1: from its start), and an event that wakes its
    readers when more come.

    It keeps at least the last `limit` frames and fewer than twice as many: older ones are dropped in
    blocks, so an append costs O(1) amortised and a reader's position is one subtraction.
    """

    __slots__ = ("_failure", "_first", "_frames", "_limit", "_waiters", "bytes", "ended")

    def __init__(self, limit: int, *, first: int = 1) -> None:
        self._frames: list[bytes] = []
        self._first = first  # the number of `_frames[0]`
        self._limit = limit
        self._waiters: list[asyncio.Future[None]] = []  # readers waiting for the next append
        self._failure: StreamError | None = None
        self.bytes = 0
        """The size of the frames held now."""
        self.ended = False
        """Whether the answer's last frame (its `[DONE]`) is in, or the frames failed (`fail`)."""

    @property
    def first(self) -> int:
        """The number of the oldest frame kept (the next one's, before any)."""
        return self._first

    @property
    def last(self) -> int:
        """The number of the newest frame (`first - 1` before any)."""
        return self._first + len(self._frames) - 1

    def append(self, chunk: bytes) -> list[bytes]:
        """Number the SSE events of `chunk` as the next frames, keep them and wake the readers."""
        frames = sse.numbered(chunk, self._first + len(self._frames))
        self.add(frames)
        return frames

    def end(self, chunk: bytes) -> list[bytes]:
        """Append the answer's last frames (they end with `[DONE]`); nothing may follow them."""
        self.ended = True
        return self.append(chunk)

    def add(self, frames: list[bytes]) -> None:
        """Keep `frames`, numbered already (the next numbers), and wake the readers; the answer has ended
        when the last of them is its `[DONE]`."""
        held = self._frames
        held.extend(frames)
        self.bytes += sum(map(len, frames))
        if frames and sse.ends_answer(frames[-1]):
            self.ended = True
        if len(held) >= 2 * self._limit:
            dropped = len(held) - self._limit
            self.bytes -= sum(map(len, held[:dropped]))
            del held[:dropped]
            self._first += dropped
        self._wake()

    def fail(self, error: StreamError) -> None:
        """End the frames with `error`: readers get what is held, then the error."""
        if not self.ended:
            self.ended = True
            self._failure = error
            self._wake()

    def _wake(self) -> None:
        if self._waiters:  # once per token: plain futures, cheaper than an asyncio.Event
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():  # a reader that left meanwhile cancelled its own
                    waiter.set_result(None)

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

    async def read(self, after: int) -> AsyncIterator[bytes]:
        """The frames after number `after`, in batches as they come, to the last; then the failure, if
        the frames failed. `FramesGone` if the reader falls behind what is kept."""
        while True:
            batch = self.since(after)
            if batch:
                after += len(batch)
                yield b"".join(batch)
            elif self.ended:
                if self._failure is not None:
                    raise self._failure
                return
            else:
                await self.changed()
