"""`RedisNonces`: used ticket nonces shared by every worker and host, so a ticket is accepted once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
import redis.asyncio

from hybrid._chat.tickets import MemoryNonces
from hybrid._stores.redis.connection import KEY_PREFIX

logger = logging.getLogger("hybrid.tickets")


class RedisNonces:
    """`SET NX PX` per nonce: the first claim in the cluster wins, the key expires with the ticket.

    While Redis cannot be reached, nonces are claimed in this process (`fallback`): tickets stay once-only
    per process, as without Redis, rather than the chat stopping.
    """

    def __init__(
        self, client: redis.asyncio.Redis, *, on_error: Callable[[str], None] = lambda op: None
    ) -> None:
        self._redis = client
        self.fallback = MemoryNonces()
        self._on_error = on_error

    def __len__(self) -> int:
        return len(self.fallback)

    async def claim(self, nonce: str, seconds: float) -> bool:
        try:
            return bool(
                await self._redis.set(f"{KEY_PREFIX}nonce:{nonce}", 1, nx=True, px=int(seconds * 1000))
            )
        except redis.RedisError as exc:
            self._on_error("nonce")
            logger.warning("Redis is unreachable (%s): this ticket is checked in this process only", exc)
            return await self.fallback.claim(nonce, seconds)
