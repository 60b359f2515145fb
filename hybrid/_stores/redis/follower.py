"""`AnswerFollower`: one reader per worker for the answers other workers generate, fanned out locally.

A resume served from Redis used to open a connection of its own and block on it: a user with 150 resumes
held 150 connections and broke everyone else's at Redis's `maxclients`. Here a worker reads every answer
it follows with one task on one dedicated connection: an `XREAD BLOCK` over the streams of all of them
at once, short (`BLOCK_MS`) so that a newly followed answer joins the next call soon. A new follow reads
what the log holds at once, on the pooled client, so its reader starts without waiting for that call.
Each answer's entries go to a `Frames` buffer, which its local readers read as they read an answer
generated here; the answer is unfollowed when its last local reader leaves.

While it follows answers, it renews their reader leases (so the generating worker does not abandon
them) and checks that they still exist: an answer whose keys vanished ends its readers with
`ANSWER_LOST`, a Redis failure ends them all with `STORE_LOST`. The loop checks on every turn whether it
was cancelled or closed: redis-py's timeouts on CPython 3.11 can swallow a cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import redis
import redis.asyncio

from hybrid._answers.answer import read_frames
from hybrid._answers.frames import Frames
from hybrid._errors import StreamError
from hybrid._stores.redis.connection import cancelling, connect

logger = logging.getLogger("hybrid.answers")

BLOCK_MS = 200
"""How long one `XREAD` waits: at most this long before a newly followed answer's next frames are read."""
CHECK_SECONDS = 1.0
"""How often the answers followed are checked (still there?) and their reader leases renewed (at least
three times per lease)."""
READ_COUNT = 512
"""Entries read per answer and call."""

ANSWER_LOST = "the answer is no longer available (its server stopped)"
FRAMES_LOST = "part of the answer was lost on its way through the server's store"
STORE_LOST = "the server lost its connection to the store of answers"

KeysOf = Callable[[str], tuple[str, str, str]]
"""An answer's log, meta and reader keys, by its id."""


@dataclass(eq=False)
class _Followed:
    """One answer this worker follows: its frames so far, how far the log was read, its local readers."""

    frames: Frames
    cursor: int
    """The number of the newest entry read from the log."""
    readers: int = 0


class AnswerFollower:
    """Follows answers in the Redis at `url` (`client` is the app's pool) for this worker's readers."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        url: str,
        *,
        keys_of: KeysOf,
        max_frames: int,
        lease_ms: int,
        on_error: Callable[[str], None] = lambda operation: None,
    ) -> None:
        self.url = url
        self._redis = client
        self._keys_of = keys_of
        self._max_frames = max_frames
        self._lease_ms = lease_ms
        self._on_error = on_error
        self._followed: dict[str, _Followed] = {}
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def tail(self, answer_id: str, after: int) -> AsyncIterator[bytes]:
        """The answer's frames after number `after` as they come, to its `[DONE]`; a `StreamError` if the
        log breaks or loses the answer on the way."""
        followed = self._followed.get(answer_id)
        if followed is None:
            if self._closing:
                raise StreamError(STORE_LOST, type="answer_store_unavailable")
            followed = await self._follow(answer_id)
        followed.readers += 1
        try:
            async with contextlib.aclosing(read_frames(followed.frames, after)) as batches:
                async for batch in batches:
                    yield batch
        finally:
            followed.readers -= 1
            if not followed.readers and self._followed.get(answer_id) is followed:
                del self._followed[answer_id]

    async def _follow(self, answer_id: str) -> _Followed:
        """Start following: read what the log holds now, on the pool, then leave the rest to the loop."""
        log, _, reader = self._keys_of(answer_id)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(reader, 1, px=self._lease_ms)
            pipe.xrange(log, "-", "+", count=self._max_frames)
            _, entries = await pipe.execute()
        except redis.RedisError:
            self._on_error("read")
            raise StreamError(STORE_LOST, type="answer_store_unavailable") from None
        first = entry_number(entries[0][0]) if entries else 1
        followed = self._followed.get(answer_id)  # another reader may have started it meanwhile
        if followed is None:
            followed = self._followed[answer_id] = _Followed(Frames(self._max_frames, first=first), first - 1)
            self._take(followed, entries)
        if self._task is None and not followed.frames.ended:
            self._task = asyncio.get_running_loop().create_task(self._run())
        return followed

    def _take(self, followed: _Followed, entries: list) -> None:
        """Add the log's `entries` to the answer's frames; a gap in the numbers ends its readers."""
        frames = []
        for entry_id, fields in entries:
            number = entry_number(entry_id)
            if number <= followed.cursor:
                continue  # read already (the catch-up and a call of the loop can overlap)
            if number != followed.cursor + 1:
                followed.frames.add(frames)
                followed.frames.fail(StreamError(FRAMES_LOST, type="answer_gap"))
                return
            followed.cursor = number
            frames.append(fields[b"f"])
        if frames:
            followed.frames.add(frames)

    async def _run(self) -> None:
        """Read every followed answer that has not ended, on one connection, until none is left."""
        client = connect(self.url, blocking=True)
        check_every = min(CHECK_SECONDS, self._lease_ms / 3000)
        checked = time.monotonic()
        try:
            while not self._closing and not cancelling():
                live = {
                    answer_id: followed
                    for answer_id, followed in self._followed.items()
                    if not followed.frames.ended
                }
                if not live:
                    return
                if time.monotonic() - checked >= check_every:
                    await self._check(live)
                    checked = time.monotonic()
                streams = {self._keys_of(answer_id)[0]: f"0-{f.cursor}" for answer_id, f in live.items()}
                reply = await client.xread(streams, count=READ_COUNT, block=BLOCK_MS)
                by_key = {key.decode() if isinstance(key, bytes) else key: entries for key, entries in reply}
                for answer_id, followed in live.items():
                    entries = by_key.get(self._keys_of(answer_id)[0])
                    if entries and self._followed.get(answer_id) is followed:
                        self._take(followed, entries)
        except redis.RedisError:
            self._on_error("read")
            self._fail_all(StreamError(STORE_LOST, type="answer_store_unavailable"))
        except Exception:
            logger.exception("following answers in the store failed")
            self._fail_all(StreamError(STORE_LOST, type="answer_store_unavailable"))
        finally:
            if self._task is asyncio.current_task():
                self._task = None  # a follow from now on starts the loop again
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _check(self, live: dict[str, _Followed]) -> None:
        """Renew the reader leases of the answers followed, and end those whose keys vanished."""
        pipe = self._redis.pipeline(transaction=False)
        for answer_id in live:
            _, meta, reader = self._keys_of(answer_id)
            pipe.set(reader, 1, px=self._lease_ms)
            pipe.exists(meta)
        replies = await pipe.execute()
        for followed, exists in zip(live.values(), replies[1::2], strict=True):
            if not exists:
                followed.frames.fail(StreamError(ANSWER_LOST, type="answer_lost"))

    def _fail_all(self, error: StreamError) -> None:
        for followed in self._followed.values():
            followed.frames.fail(error)

    async def close(self) -> None:
        """Stop following: readers still here end with the store's loss, the connection closes."""
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._fail_all(StreamError(STORE_LOST, type="answer_store_unavailable"))


def entry_number(entry_id: bytes) -> int:
    """The number of a log entry, from its id (`0-N`)."""
    return int(entry_id.partition(b"-")[2])
