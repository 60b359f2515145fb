"""The migrations, on SQLite and on a real Postgres: an empty database is brought to the newest schema,
again and again without harm, by several workers at once; a database at any earlier revision, with
data in it, is brought to the newest with its data intact; the result is the schema the store queries.

When you add a migration, add what a database at the previous newest revision holds to `SEEDS`: the
test from every revision then covers your migration with data in it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncConnection

from hybrid._conversations import schema, search
from hybrid._conversations.database import create_engine
from hybrid._conversations.store import ConversationStore
from hybrid._conversations.upgrade import alembic_config, head, revisions, upgrade
from hybrid._conversations.urls import parse
from hybrid._errors import ConfigurationError
from tests.conftest import run_async
from tests.conversations.conftest import in_store, query

SEARCH_TABLES = ("message_search", "conversation_search")
"""SQLite's full-text tables (and their shadow tables): made by the migration, not in `schema.py`."""

CONVERSATION = uuid.UUID("11111111-2222-3333-4444-555555555555")
QUESTION = uuid.UUID("11111111-2222-3333-4444-000000000001")
ANSWER = uuid.UUID("11111111-2222-3333-4444-000000000002")
SEEDED_AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _seed_0001(connection: sa.Connection) -> None:
    """A conversation of `owner` with a question, an answer and its feedback, as revision 0001 holds them."""
    time = sa.DateTime(timezone=True)
    owners = sa.table("owners", sa.column("owner"), sa.column("conversations"), sa.column("bytes"))
    conversations = sa.table(
        "conversations", *map(sa.column, ("id", "owner", "chat", "title", "selected_id", "bytes")),
        sa.column("public_id", sa.Uuid()), sa.column("created_at", time), sa.column("updated_at", time),
    )  # fmt: skip
    messages = sa.table(
        "messages",
        *map(sa.column, ("id", "conversation_id", "parent_id", "role", "content", "status", "bytes")),
        sa.column("public_id", sa.Uuid()), sa.column("parts", sa.JSON()), sa.column("context", sa.JSON()),
        sa.column("created_at", time), sa.column("updated_at", time),
    )  # fmt: skip
    feedback = sa.table(
        "feedback", *map(sa.column, ("message_id", "conversation_id", "rating", "comment")),
        sa.column("created_at", time), sa.column("updated_at", time),
    )  # fmt: skip
    at = {"created_at": SEEDED_AT, "updated_at": SEEDED_AT}
    connection.execute(owners.insert().values(owner="owner", conversations=1, bytes=28))
    connection.execute(
        conversations.insert().values(
            id=7, public_id=CONVERSATION, owner="owner", chat="chat", title="Seeded", selected_id=9, bytes=28,
            **at,
        )
    )  # fmt: skip
    connection.execute(
        messages.insert(),
        [
            {"id": 8, "public_id": QUESTION, "conversation_id": 7, "parent_id": None, "role": "user",
             "content": "Ferns?", "status": "complete", "bytes": 11, "parts": None, "context": [1], **at},
            {"id": 9, "public_id": ANSWER, "conversation_id": 7, "parent_id": 8, "role": "assistant",
             "content": "Ferns are plants.", "status": "complete", "bytes": 17, "parts": [{"x": 1}],
             "context": None, **at},
        ],
    )  # fmt: skip
    connection.execute(
        feedback.insert().values(message_id=9, conversation_id=7, rating=1, comment="ok", **at)
    )


SEEDS: dict[str, Callable[[sa.Connection], None]] = {"0001": _seed_0001}
"""What a database at each revision holds, written with that revision's tables."""


async def _at(url: str, revision: str, then: Callable[[AsyncConnection], object] | None = None) -> None:
    engine = create_engine(parse(url), pool_size=1)
    try:
        async with engine.connect() as connection:
            await upgrade(connection, revision)
        if then is not None:
            async with engine.begin() as connection:
                await connection.run_sync(then)
    finally:
        await engine.dispose()


def test_every_revision_has_seed_data() -> None:
    assert list(SEEDS) == revisions(), "add what a database at your new revision holds to SEEDS"
    assert head() == revisions()[-1]


def test_an_empty_database_is_brought_to_the_newest_schema_and_again_without_harm(
    empty_database: str,
) -> None:
    ConversationStore(empty_database).prepare()
    ConversationStore(empty_database).prepare()
    assert run_async(query(empty_database, "SELECT version_num FROM alembic_version")) == [(head(),)]
    assert run_async(query(empty_database, "SELECT COUNT(*) FROM conversations")) == [(0,)]


@pytest.mark.parametrize("revision", revisions())
def test_a_database_at_any_revision_keeps_its_data_through_the_upgrade(
    empty_database: str, revision: str
) -> None:
    run_async(_at(empty_database, revision, SEEDS[revision]))
    ConversationStore(empty_database).prepare()

    async def scenario(store: ConversationStore) -> None:
        thread = await store.get("owner", str(CONVERSATION))
        assert (thread.conversation.title, thread.conversation.created_at) == ("Seeded", SEEDED_AT)
        assert [(m.role, m.content, m.parts, m.context) for m in thread.path()] == [
            ("user", "Ferns?", None, [1]),
            ("assistant", "Ferns are plants.", [{"x": 1}], None),
        ]
        assert (thread.feedback[str(ANSWER)].rating, thread.feedback[str(ANSWER)].comment) == (1, "ok")
        assert [
            c.id for c in (await store.list_conversations("owner", "chat", query="plants")).conversations
        ] == [str(CONVERSATION)]
        _, question = await store.create("owner", "chat", "new after the upgrade")
        assert question.parent_id is None

    in_store(empty_database, scenario)


def test_the_migrated_database_is_the_schema_the_store_queries(database: str) -> None:
    def compare(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, kind, parent: not str(name).startswith(SEARCH_TABLES)},
        )
        return compare_metadata(context, schema.metadata)

    async def differences() -> list[object]:
        engine = create_engine(parse(database), pool_size=1)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    assert run_async(differences()) == []


def test_workers_starting_at_once_migrate_once(empty_database: str) -> None:
    failures: list[BaseException] = []

    def start() -> None:
        try:
            ConversationStore(empty_database).prepare()
        except BaseException as error:
            failures.append(error)

    workers = [threading.Thread(target=start) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert run_async(query(empty_database, "SELECT version_num FROM alembic_version")) == [(head(),)]


def test_a_database_of_a_newer_hybrid_is_refused(database: str) -> None:
    run_async(query(database, "UPDATE alembic_version SET version_num = 'f00dcafe'"))
    with pytest.raises(ConfigurationError) as refused:
        ConversationStore(database).prepare()
    assert refused.value.type == "database_too_new"
    assert "upgraded by a newer hybrid" in refused.value.message


def test_the_first_migration_goes_down_to_nothing_and_up_again(database: str) -> None:
    def down(connection: sa.Connection) -> None:
        command.downgrade(alembic_config(connection), "base")

    async def downgrade() -> None:
        engine = create_engine(parse(database), pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(down)
        finally:
            await engine.dispose()

    run_async(downgrade())
    tables = "SELECT name FROM sqlite_master WHERE type = 'table'"
    if not database.startswith("sqlite"):
        tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    assert run_async(query(database, tables)) == [("alembic_version",)]
    ConversationStore(database).prepare()
    in_store(database, lambda store: store.create("owner", "chat", "works again"))


@pytest.mark.server
def test_postgres_searches_through_its_indexes(postgres_database: str) -> None:
    """The store's search expressions are the indexed ones (else Postgres reads every message)."""

    async def plan(store: ConversationStore) -> str:
        await store.create("owner", "chat", "ferns")
        engine = create_engine(parse(postgres_database), pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SET enable_seqscan = off")
                searching = sa.select(schema.conversations.c.id).where(
                    search.matching("postgresql", ["fern"])
                )
                compiled = searching.compile(
                    dialect=connection.dialect, compile_kwargs={"literal_binds": True}
                )
                rows = await connection.exec_driver_sql(f"EXPLAIN {compiled}")
                return "\n".join(row[0] for row in rows)
        finally:
            await engine.dispose()

    shown = in_store(postgres_database, plan)
    assert "message_search" in shown and "conversation_search" in shown, shown
