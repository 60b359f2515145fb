"""Connections to the Redis that `HYBRID_REDIS_URL` names, and the check that it answers at start."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from hybrid._errors import ConfigurationError

KEY_PREFIX = "hybrid:"
"""Every key hybrid writes starts with this; give each app a database of its own (`redis://host/N`)."""
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0
POOL_CONNECTIONS = 16
"""Connections of an app's pool: its commands are short, so a burst waits for one rather than opening more."""


class RedisUnavailable(ConfigurationError):
    """`HYBRID_REDIS_URL` is set, but that Redis does not answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="redis_unavailable")


def redacted(url: str) -> str:
    """`url` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_reachable(url: str, *, timeout: float = CONNECT_TIMEOUT) -> None:
    """Ping the Redis at `url` once; `RedisUnavailable` says what is wrong and what to do."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise RedisUnavailable(
            f"HYBRID_REDIS_URL is set, but the Redis at {redacted(url)} cannot be reached ({exc}). "
            "Start it or fix the URL; unset HYBRID_REDIS_URL to keep answers, tickets and limits per process."
        ) from None


def connect(url: str, *, blocking: bool = False) -> redis.asyncio.Redis:
    """An asyncio client of the Redis at `url`, with a pool of at most `POOL_CONNECTIONS` connections.

    Connections are named (`CLIENT LIST`): `hybrid` for the pool's, `hybrid-tail` for a blocking one.
    `blocking`: one connection of its own, for commands that block (`XREAD BLOCK`, for less than
    `COMMAND_TIMEOUT`) and would hold a pooled one; close it when done. A failed command is retried once
    at once, on a fresh connection (the old one may date from before a Redis restart), then raises:
    callers decide what a failure means.
    """
    options = {
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "socket_timeout": COMMAND_TIMEOUT,
        "retry": AsyncRetry(NoBackoff(), 1),
    }
    if blocking:
        return redis.asyncio.Redis.from_url(
            url, single_connection_client=True, client_name="hybrid-tail", **options
        )
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=POOL_CONNECTIONS, timeout=COMMAND_TIMEOUT, client_name="hybrid", **options
    )
    return redis.asyncio.Redis(connection_pool=pool)


def cancelling() -> bool:
    """Whether the running task was asked to stop. Every loop that calls Redis asks it on each turn: on
    CPython 3.11, redis-py's timeouts (`asyncio.wait_for`) can swallow a cancellation, and a loop that
    relied on it would run on after its reader or its app had gone."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
