"""Fixtures of the conversation store's tests: a new database per test, in SQLite (a temporary file:
the `unit` layer) and in the session's real Postgres (the `server` layer), and a way to run a scenario
against a store in a loop of its own.

Tests that behave the same on both take `database` (migrated) or `empty_database` (nothing in it) and
run twice; a test for one database asks for `sqlite_database` or `postgres_database`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hybrid._conversations.database import create_engine
from hybrid._conversations.store import ConversationStore
from hybrid._conversations.urls import parse
from hybrid.dev.postgres import PostgresServer
from tests.conftest import run_async

T = TypeVar("T")
BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.server)]


def in_store(url: str, scenario: Callable[[ConversationStore], Awaitable[T]], **options: Any) -> T:
    """Run `scenario(store)` on a store of `url` (made with `options`) in a loop of its own; closed after."""

    async def main() -> T:
        store = ConversationStore(url, **options)
        try:
            return await scenario(store)
        finally:
            await store.close()

    return run_async(main())


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A migrated database that each test's database copies (faster than migrating each)."""
    url = postgres_server.create_database("hybrid_template")
    ConversationStore(url).prepare()
    return "hybrid_template"


def _postgres(request: pytest.FixtureRequest, *, template: str | None) -> Iterator[str]:
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"test_{uuid.uuid4().hex[:12]}"
    if template:
        request.getfixturevalue("postgres_template")
    yield server.create_database(name, template=template or "template1")
    server.drop_database(name)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/conversations.db"
    ConversationStore(url).prepare()
    return url


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _postgres(request, template="hybrid_template")


@pytest.fixture(params=BOTH)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, migrated database: SQLite, then Postgres."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_database")
    else:
        yield from _postgres(request, template="hybrid_template")


@pytest.fixture(params=BOTH)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new database with nothing in it: SQLite, then Postgres."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/conversations.db"
    else:
        yield from _postgres(request, template=None)


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one SQL statement, run beside the store (to see what it stored, or to age a row)."""
    engine = create_engine(parse(url), pool_size=1)
    try:
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(sql)
            rows = [tuple(row) for row in result] if result.returns_rows else []
            await connection.commit()
            return rows
    finally:
        await engine.dispose()


async def assert_counted(url: str) -> None:
    """Every owner's tally holds what their conversations and messages hold."""
    counted = await query(
        url, "SELECT owner, conversations, bytes FROM owners WHERE conversations > 0 ORDER BY owner"
    )
    held = await query(
        url,
        "SELECT c.owner, COUNT(DISTINCT c.id), COALESCE(SUM(m.bytes), 0) FROM conversations c "
        "LEFT JOIN messages m ON m.conversation_id = c.id GROUP BY c.owner ORDER BY c.owner",
    )
    per_conversation = await query(
        url,
        "SELECT c.id FROM conversations c WHERE c.bytes <> "
        "(SELECT COALESCE(SUM(m.bytes), 0) FROM messages m WHERE m.conversation_id = c.id)",
    )
    assert counted == held
    assert per_conversation == []
