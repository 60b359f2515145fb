"""The engine of the conversation database: bounded pools, SQLite's settings, and failures as 503s.

One `AsyncEngine` per store, used from one event loop (asyncpg's and aiosqlite's connections belong to
the loop that opened them). Transactions come from `reading` and `writing`:

* SQLite runs in WAL mode (readers never wait for the writer), with foreign keys on and a busy timeout
  (a writer waits for another's commit instead of failing at once). A writing transaction begins with
  `BEGIN IMMEDIATE`: it takes the write lock before it reads, so two writers never deadlock on upgrading
  a read lock (which SQLite would fail at once, whatever the timeout).
* Postgres connections are checked before use (`pool_pre_ping`: a restarted server's dead connections
  are replaced, not failed on), connecting and each statement have time limits, and each statement is
  planned for its own values (see `create_engine`).

A failure of the database itself (unreachable, timed out, connection lost, SQLite locked past the
timeout) becomes `StoreUnavailable`; any other error is a bug and stays what it is.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hybrid._conversations.errors import StoreUnavailable

logger = logging.getLogger("hybrid.conversations")

POOL_TIMEOUT_SECONDS = 5.0
"""Longest wait for a free connection of the pool before an operation fails with 503."""
CONNECT_TIMEOUT_SECONDS = 5.0
"""Postgres: longest wait to connect."""
STATEMENT_TIMEOUT_SECONDS = 10.0
"""Postgres: longest wait for one statement (the slowest, a retention batch, takes milliseconds)."""
BUSY_TIMEOUT_MS = 5_000
"""SQLite: how long a writer waits for another's commit (another worker's included)."""

UNAVAILABLE = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError, TimeoutError)
"""The database failing, not the query: no connection, a lost one, a timeout, SQLite busy or unwritable."""


def create_engine(url: URL, *, pool_size: int) -> AsyncEngine:
    """An engine for `url` (an async driver's URL, from `urls.parse`) with at most `pool_size`
    connections."""
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": POOL_TIMEOUT_SECONDS,
    }
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    connect_args = {
        "timeout": CONNECT_TIMEOUT_SECONDS,
        "command_timeout": STATEMENT_TIMEOUT_SECONDS,
        # asyncpg prepares every statement, and after five runs Postgres may plan one for any values of
        # its parameters: blind to the owner and the words searched, it read every match of a search
        # (measured: 7 ms became 17, 12 became 56). Planning each run costs a fraction of a millisecond.
        "server_settings": {"application_name": "hybrid", "plan_cache_mode": "force_custom_plan"},
    }
    return create_async_engine(url, pool_pre_ping=True, connect_args=connect_args, **options)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def connect(connection: Any, record: object) -> None:
        connection.isolation_level = None  # the driver begins no transaction: `begin` below does
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # kept in the file: a no-op once set
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash of the process loses nothing
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def begin(connection: Any) -> None:
        writing = connection.get_execution_options().get("hybrid_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that only reads (one snapshot for all its statements)."""
    async with _transaction(engine, write=False) as connection:
        yield connection


@asynccontextmanager
async def writing(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that writes: committed at the end of the block, rolled back on an exception."""
    async with _transaction(engine, write=True) as connection:
        yield connection


@asynccontextmanager
async def _transaction(engine: AsyncEngine, *, write: bool) -> AsyncIterator[AsyncConnection]:
    connection = await connect(engine, _unavailable)
    try:
        if write:
            connection = await connection.execution_options(hybrid_write=True)
        async with connection.begin():
            yield connection
    except UNAVAILABLE as error:
        raise _unavailable(short(error)) from error
    finally:
        await connection.close()


def _unavailable(reason: str) -> StoreUnavailable:
    logger.warning("the conversation database failed: %s", reason)
    return StoreUnavailable(reason)


async def connect(engine: AsyncEngine, failure: Callable[[str], Exception]) -> AsyncConnection:
    """A connection of the pool; `failure(reason)` raised if none can be had. Any error while
    connecting counts (a wrong password or a missing database, too): whatever it is, there is no
    database to work with."""
    try:
        return await engine.connect()
    except (exc.DBAPIError, *UNAVAILABLE) as error:
        raise failure(short(error)) from error


def short(error: BaseException) -> str:
    """The first line of a database error (SQLAlchemy appends the statement and its parameters, which
    may hold what users wrote: never logged)."""
    text = str(error.orig if isinstance(error, exc.DBAPIError) and error.orig else error)
    return text.splitlines()[0] if text else type(error).__name__
