"""`SharedState`: the Redis of `HYBRID_REDIS_URL`, and the stores hybrid keeps there.

With it, what holds per process without Redis holds for the cluster: any worker resumes any answer
(`RedisAnswerLog`), a ticket is accepted once (`RedisNonces`), and a client's limits count its streams
on every worker (`RedisClientLimiter`).
"""

from __future__ import annotations

from collections.abc import Callable

from hybrid._stores.redis.answer_log import RedisAnswerLog
from hybrid._stores.redis.connection import check_reachable, connect
from hybrid._stores.redis.limits import RedisClientLimiter
from hybrid._stores.redis.nonces import RedisNonces


class SharedState:
    """One app's connection pool to Redis and the stores built on it; `close` at shutdown.

    It checks at once that Redis answers (`RedisUnavailable` otherwise): a server configured to share
    its state refuses to start without it rather than silently hold it per process.
    """

    def __init__(self, url: str, *, on_error: Callable[[str], None] = lambda operation: None) -> None:
        check_reachable(url)
        self.url = url
        self.client = connect(url)
        self.on_error = on_error
        """Told of each failed Redis operation, by name (metrics)."""
        self._limiters: list[RedisClientLimiter] = []

    def answer_log(self, *, max_frames: int, reader_lease: float) -> RedisAnswerLog:
        return RedisAnswerLog(
            self.client, self.url, max_frames=max_frames, reader_lease=reader_lease, on_error=self.on_error
        )

    def nonces(self) -> RedisNonces:
        return RedisNonces(self.client, on_error=self.on_error)

    def limiter(self, *, per_minute: int, burst: int, concurrent: int) -> RedisClientLimiter:
        limiter = RedisClientLimiter(
            self.client, per_minute=per_minute, burst=burst, concurrent=concurrent, on_error=self.on_error
        )
        self._limiters.append(limiter)
        return limiter

    async def close(self) -> None:
        for limiter in self._limiters:
            await limiter.close()
        await self.client.aclose()
