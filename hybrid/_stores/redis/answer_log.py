"""`RedisAnswerLog`: every worker's answers in Redis Streams, so that any worker can resume any answer.

Per answer, three keys (one hash tag, so one Redis Cluster slot):

* `...:log`, a stream: one entry per frame, with the frame's number as its id (`0-N`) and the frame in
  field `f`; capped near `max_frames` (`MAXLEN ~`);
* `...:meta`, the SHA-256 of the owner's token;
* `...:reader`, a lease that a worker following the answer renews while it has readers (the generating
  worker asks for it before it abandons an answer nobody reads here).

Writes leave the answer's hot path: `push` only queues, and one background flush every `FLUSH_SECONDS`
writes what all answers of the worker queued with one script call: one round trip and three
arguments, whatever the number of answers and frames (the client's cost per argument dominated
otherwise). A live answer's keys expire `LIVE_TTL_MS` after the last write or heartbeat (each second),
so the answers of a worker that died disappear soon; an ended one's are kept for the grace from its end,
however often it is read. Stops travel on one Pub/Sub channel that every worker listens to. Readers in
the other workers read through one `AnswerFollower` per worker (one connection, whatever their number).

When Redis fails, the answers in flight stop being mirrored (their keys then expire, and a reader in
another worker ends with an error rather than wait or show a gap); the answer itself goes on, and its
readers in the generating worker never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import redis
import redis.asyncio

from hybrid._answers.log import AnswerStoreUnavailable, LoggedAnswer
from hybrid._stores.redis.connection import CONNECT_TIMEOUT, KEY_PREFIX, cancelling
from hybrid._stores.redis.follower import AnswerFollower, entry_number
from hybrid._wire import sse

logger = logging.getLogger("hybrid.answers")

FLUSH_SECONDS = 0.01
"""How long frames wait to be written: all answers' frames of that time share one round trip."""
HEARTBEAT_SECONDS = 1.0
LIVE_TTL_MS = 5_000
STOP_CHANNEL = KEY_PREFIX + "answers:stop"

# One call writes a whole flush. ARGV[1]: the logs' length cap; ARGV[2]: the key of an answer, with `%s`
# for its id; ARGV[3]: the batch, one record per answer: a line `id keep first size`, then `size` bytes
# of frames (each one SSE event, so each ends with the only blank line in it). `keep`: milliseconds to
# keep the answer's keys (0: delete them now); `first`: the number of its first new frame. Answers whose
# meta key is gone (expired, or Redis lost its data) are skipped and returned, as are those whose log
# refused a frame. Undeclared keys: one Redis (or a Sentinel pair), not a Cluster.
_FLUSH = """
local gone = {}
local batch, at = ARGV[3], 1
while at <= #batch do
  local line_end = string.find(batch, '\\n', at, true)
  local id, keep, first, size = string.match(string.sub(batch, at, line_end - 1), '(%S+) (%d+) (%d+) (%d+)')
  keep, first, size = tonumber(keep), tonumber(first), tonumber(size)
  local frames, stop = line_end + 1, line_end + size
  at = stop + 1
  local base = string.format(ARGV[2], id)
  local log, meta = base .. ':log', base .. ':meta'
  if keep == 0 then
    redis.call('DEL', log, meta, base .. ':reader')
  elseif redis.call('EXISTS', meta) == 0 then
    gone[#gone + 1] = id
  else
    local number = first
    while frames <= stop do
      local frame_end = string.find(batch, '\\n\\n', frames, true) + 1
      local added = redis.pcall('XADD', log, 'MAXLEN', '~', ARGV[1], '0-' .. number, 'f',
                                string.sub(batch, frames, frame_end))
      if type(added) == 'table' and added.err then
        gone[#gone + 1] = id
        break
      end
      number, frames = number + 1, frame_end + 1
    end
    redis.call('PEXPIRE', log, keep)
    redis.call('PEXPIRE', meta, keep)
  end
end
return gone
"""

_KEY = KEY_PREFIX + "answer:{%s}"
"""An answer's keys start with this (its id in the hash tag: one Cluster slot per answer)."""


def _keys(answer_id: str) -> tuple[str, str, str]:
    base = _KEY % answer_id
    return base + ":log", base + ":meta", base + ":reader"


def _frame_number(frame: bytes) -> int:
    """The number of a frame (`id: N\\n...`)."""
    return int(frame[4 : frame.index(b"\n")])


class RedisAnswerLog:
    """The `AnswerLog` of a worker, in the Redis of `client` (at `url`; see the module's docstring)."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        url: str,
        *,
        max_frames: int,
        reader_lease: float,
        on_error: Callable[[str], None] = lambda operation: None,
    ) -> None:
        self._redis = client
        self._script = self._redis.register_script(_FLUSH)
        self._max_frames = max_frames
        self._on_error = on_error
        """Told of each failed operation (`write`, `read`, `lease`, `listen`), for the metrics."""
        self._follower = AnswerFollower(
            client,
            url,  # its blocking reads have a connection of their own: the pool's are for short commands
            keys_of=_keys,
            max_frames=max_frames,
            lease_ms=max(int(reader_lease * 1000), 1),
            on_error=on_error,
        )
        self._pending: dict[str, tuple[int, list[bytes]]] = {}  # answer -> (first number, frames)
        self._keep: dict[str, int] = {}  # ended answers -> milliseconds to keep them (0: delete)
        self._live: set[str] = set()  # answers mirrored here and not ended: kept alive by heartbeats
        self._heartbeat_due = False
        self._timer: asyncio.TimerHandle | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    async def open(self, answer_id: str, digest: bytes) -> None:
        _, meta, _ = _keys(answer_id)
        await self._redis.set(meta, digest, px=LIVE_TTL_MS)
        self._live.add(answer_id)
        if self._heartbeat is None:
            self._heartbeat = asyncio.get_running_loop().call_later(HEARTBEAT_SECONDS, self._beat)

    def push(self, answer_id: str, frames: list[bytes]) -> None:
        if answer_id not in self._live:
            return  # not mirrored (any more): its readers elsewhere end with an error
        pending = self._pending.get(answer_id)
        if pending is None:
            self._pending[answer_id] = (_frame_number(frames[0]), list(frames))
        else:
            pending[1].extend(frames)
        self._soon()

    def finish(self, answer_id: str, *, keep: float) -> None:
        if answer_id in self._live:
            self._live.discard(answer_id)
            self._keep[answer_id] = max(int(keep * 1000), 1)
            self._soon()

    def drop(self, answer_id: str) -> None:
        self._live.discard(answer_id)
        self._pending.pop(answer_id, None)
        self._keep[answer_id] = 0
        self._soon()

    def _soon(self) -> None:
        if self._timer is None and self._flushing is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._flush_now)

    def _beat(self) -> None:
        """Each second: keep the live answers' keys from expiring, even while they are silent."""
        self._heartbeat = None
        if self._live:
            self._heartbeat_due = True
            self._soon()
            self._heartbeat = asyncio.get_running_loop().call_later(HEARTBEAT_SECONDS, self._beat)

    def _flush_now(self) -> None:
        self._timer = None
        self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        """Write everything queued since the last flush in one script call."""
        batch, self._pending = self._pending, {}
        keep, self._keep = self._keep, {}
        ids = list(batch.keys() | keep.keys())
        if self._heartbeat_due:
            self._heartbeat_due = False
            ids.extend(self._live - batch.keys())
        records: list[bytes] = []
        for answer_id in ids:
            first, frames = batch.get(answer_id, (0, []))
            size = sum(map(len, frames))
            records.append(
                b"%s %d %d %d\n" % (answer_id.encode(), keep.get(answer_id, LIVE_TTL_MS), first, size)
            )
            records.extend(frames)
        try:
            gone = await self._script(args=[self._max_frames, _KEY, b"".join(records)]) if ids else []
        except redis.RedisError as exc:
            self._on_error("write")
            lost = [answer_id for answer_id in ids if answer_id in self._live]
            self._live.difference_update(lost)
            if lost:
                logger.warning(
                    "the answer store failed (%s): %d answers resume in their worker only", exc, len(lost)
                )
        else:
            for answer_id in gone:
                self._live.discard(answer_id.decode())
            if gone:
                logger.warning(
                    "%d answers vanished from the answer store: they resume in their worker only", len(gone)
                )
        finally:
            self._flushing = None
            if self._pending or self._keep or self._heartbeat_due:
                self._soon()

    async def lookup(self, answer_id: str) -> LoggedAnswer | None:
        log, meta, _ = _keys(answer_id)
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(meta)
            pipe.xrange(log, "-", "+", count=1)
            pipe.xrevrange(log, "+", "-", count=1)
            digest, oldest, newest = await pipe.execute()
        except redis.RedisError:
            raise AnswerStoreUnavailable() from None
        if digest is None:
            return None
        return LoggedAnswer(
            digest=digest,
            first=entry_number(oldest[0][0]) if oldest else 0,
            last=entry_number(newest[0][0]) if newest else 0,
            ended=bool(newest) and sse.ends_answer(newest[0][1][b"f"]),
        )

    def tail(self, answer_id: str, after: int) -> AsyncIterator[bytes]:
        """The answer's frames after `after`, through this worker's one follower (see `AnswerFollower`)."""
        return self._follower.tail(answer_id, after)

    async def reader_lease(self, answer_id: str) -> float:
        try:
            left = await self._redis.pttl(_keys(answer_id)[2])
        except redis.RedisError:
            self._on_error("lease")
            return 0.0
        return max(left, 0) / 1000

    async def publish_stop(self, answer_id: str) -> None:
        try:
            await self._redis.publish(STOP_CHANNEL, answer_id)
        except redis.RedisError:
            raise AnswerStoreUnavailable() from None

    async def listen(self, on_stop: Callable[[str], None]) -> None:
        """Start listening for stops (once per worker) and wait until the subscription holds."""
        if self._listener is not None:
            return
        subscribed = asyncio.get_running_loop().create_future()
        self._listener = asyncio.get_running_loop().create_task(self._listen(on_stop, subscribed))
        await asyncio.wait_for(asyncio.shield(subscribed), CONNECT_TIMEOUT)

    async def _listen(self, on_stop: Callable[[str], None], subscribed: asyncio.Future[None]) -> None:
        while not cancelling():
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(STOP_CHANNEL)
                if not subscribed.done():
                    subscribed.set_result(None)
                while not cancelling():
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=HEARTBEAT_SECONDS
                    )
                    if message is not None and message["type"] == "message":
                        on_stop(message["data"].decode())
            except Exception as exc:  # whatever broke, Stops from other workers must keep arriving
                self._on_error("listen")
                logger.warning("lost the answer store's stop channel (%r); listening again in 1 s", exc)
                await asyncio.sleep(1)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    @property
    def follower(self) -> AnswerFollower:
        """The worker's reader of other workers' answers."""
        return self._follower

    async def close(self) -> None:
        await self._follower.close()
        for handle in (self._timer, self._heartbeat):
            if handle is not None:
                handle.cancel()
        self._timer = self._heartbeat = None
        if self._flushing is not None:
            await self._flushing
        if self._pending or self._keep:
            await self._flush()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
