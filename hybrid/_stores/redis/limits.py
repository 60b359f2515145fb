"""`RedisClientLimiter`: per-client rate and concurrency limits that hold across workers and hosts.

One script call admits a stream atomically: it drops expired leases, refuses past `concurrent` open
streams, takes a token from the client's bucket (Redis's clock, so hosts need not agree on the time),
and adds a lease for the new stream. Leases expire `LEASE_SECONDS` after their last renewal, and the
worker renews those it holds every third of that, so a worker that dies mid-stream leaks nothing for
longer than that. While Redis cannot be reached, limits are counted in this process (`fallback`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable

import redis
import redis.asyncio

from hybrid._stores.redis.connection import KEY_PREFIX, cancelling
from hybrid._streams.limits import ClientLimiter, Release, rate_limited, release_once, too_many_streams

logger = logging.getLogger("hybrid.limits")

LEASE_SECONDS = 30.0

# KEYS[1]: the client's bucket (hash: tokens, at), KEYS[2]: its leases (sorted set: lease -> expiry).
# ARGV: tokens per millisecond, burst, concurrent, lease id, lease milliseconds.
# Returns {0, 0} when admitted, {1, 0} past the concurrency limit, {2, seconds to wait} past the rate.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rate, burst, concurrent = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lease_ms = tonumber(ARGV[5])
if concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= concurrent then
    return {1, 0}
  end
end
if rate > 0 then
  local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
  local tokens = tonumber(bucket[1]) or burst
  local at = tonumber(bucket[2]) or now
  tokens = math.min(burst, tokens + (now - at) * rate)
  if tokens < 1 then
    return {2, math.ceil((1 - tokens) / rate / 1000)}
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
end
if concurrent > 0 then
  redis.call('ZADD', KEYS[2], now + lease_ms, ARGV[4])
  redis.call('PEXPIRE', KEYS[2], lease_ms)
end
return {0, 0}
"""


class RedisClientLimiter:
    """The limits of `ClientLimiter`, counted in Redis; `admit` is a coroutine."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        per_minute: int,
        burst: int,
        concurrent: int,
        on_error: Callable[[str], None] = lambda op: None,
    ) -> None:
        self._redis = client
        self._script = client.register_script(_ADMIT)
        self.fallback = ClientLimiter(per_minute=per_minute, burst=burst, concurrent=concurrent)
        self._on_error = on_error
        self._held: dict[str, str] = {}  # lease -> the client's leases key
        self._renewer: asyncio.Task[None] | None = None
        self._releasing: set[asyncio.Task[None]] = set()

    async def admit(self, key: str) -> Release:
        """Count a new stream for the client `key`, or raise 429; call the result when it ends."""
        fallback = self.fallback
        if not fallback.rate and not fallback.concurrent:
            return lambda: None
        bucket, leases = f"{KEY_PREFIX}limit:{{{key}}}:bucket", f"{KEY_PREFIX}limit:{{{key}}}:leases"
        lease = secrets.token_urlsafe(9)
        try:
            verdict, wait = await self._script(
                keys=[bucket, leases],
                args=[
                    fallback.rate / 1000,
                    fallback.burst,
                    fallback.concurrent,
                    lease,
                    int(LEASE_SECONDS * 1000),
                ],
            )
        except redis.RedisError as exc:
            self._on_error("limit")
            logger.warning("Redis is unreachable (%s): this client's limits are counted in this process", exc)
            return fallback.admit(key)
        if verdict == 1:
            raise too_many_streams(fallback.concurrent)
        if verdict == 2:
            raise rate_limited(int(wait))
        if not fallback.concurrent:
            return lambda: None
        self._held[lease] = leases
        if self._renewer is None:
            self._renewer = asyncio.get_running_loop().create_task(self._renew())
        return release_once(lambda: self._release(lease))

    def _release(self, lease: str) -> None:
        leases = self._held.pop(lease)
        task = asyncio.get_running_loop().create_task(self._forget(leases, lease))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _forget(self, leases: str, lease: str) -> None:
        try:
            await self._redis.zrem(leases, lease)
        except redis.RedisError:
            self._on_error("limit")  # the lease expires on its own

    async def _renew(self) -> None:
        """Every third of `LEASE_SECONDS`: extend the leases of the streams this worker holds."""
        lease_ms = int(LEASE_SECONDS * 1000)
        while not cancelling():
            await asyncio.sleep(LEASE_SECONDS / 3)
            if not self._held:
                continue
            try:
                seconds, microseconds = await self._redis.time()
                pipe = self._redis.pipeline(transaction=False)
                for lease, leases in self._held.items():
                    pipe.zadd(leases, {lease: seconds * 1000 + microseconds // 1000 + lease_ms}, xx=True)
                    pipe.pexpire(leases, lease_ms)
                await pipe.execute()
            except redis.RedisError:
                self._on_error("limit")

    async def close(self) -> None:
        """Stop renewing (the leases still held expire on their own) and finish the releases under way."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._releasing:
            await asyncio.wait(self._releasing, timeout=1)
