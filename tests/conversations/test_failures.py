"""When the database is not there: at start the server refuses with one line; while it runs, an
operation fails with a 503 the caller can retry, and the store works again once the database is back."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hybrid._conversations import database as database_module
from hybrid._conversations.errors import DatabaseUnavailable, StoreUnavailable
from hybrid._conversations.records import AnswerEnd
from hybrid._conversations.store import ConversationStore
from hybrid.dev.postgres import PASSWORD, PostgresServer, start_postgres
from hybrid.dev.servers import free_port
from tests.conftest import run_async
from tests.conversations.conftest import in_store


@pytest.mark.server
def test_an_unreachable_postgres_stops_the_start_with_one_line() -> None:
    url = f"postgresql://hybrid:{PASSWORD}@127.0.0.1:{free_port()}/chat"
    with pytest.raises(DatabaseUnavailable) as refused:
        ConversationStore(url).prepare()
    message = refused.value.message
    assert "\n" not in message and PASSWORD not in message
    assert message.startswith(
        "HYBRID_DATABASE_URL is set, but the database at postgresql://hybrid:***@127.0.0.1"
    )
    assert "cannot be reached" in message and refused.value.type == "database_unavailable"


def test_a_missing_postgres_database_stops_the_start(postgres_server: PostgresServer) -> None:
    with pytest.raises(DatabaseUnavailable, match='database "no_such_database" does not exist'):
        ConversationStore(postgres_server.url("no_such_database")).prepare()


def test_a_sqlite_file_that_cannot_be_made_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(DatabaseUnavailable, match="cannot be created") as refused:
        ConversationStore(f"sqlite:///{tmp_path}/a-file/folder/chat.db").prepare()
    assert "\n" not in refused.value.message


def test_prepare_works_where_an_event_loop_runs_already(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/made/in/folders/chat.db"

    async def starting_inside_a_loop() -> None:
        ConversationStore(url).prepare()

    run_async(
        starting_inside_a_loop()
    )  # a thread of its own: after a browser test, Playwright's loop runs here
    assert (tmp_path / "made" / "in" / "folders" / "chat.db").exists()


def test_a_sqlite_database_locked_past_the_timeout_is_unavailable_then_back(
    sqlite_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_MS", 50)
    path = sqlite_database.removeprefix("sqlite:///")

    async def scenario(store: ConversationStore) -> None:
        conversation, question = await store.create("owner", "chat", "before the lock")
        answer = await store.start_answer("owner", conversation.id, question.id)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holding the database
        try:
            with pytest.raises(StoreUnavailable) as unavailable:
                await store.finish_answer("owner", answer.id, AnswerEnd("complete", "kept for later"))
            assert unavailable.value.status == 503 and unavailable.value.headers == {"Retry-After": "5"}
            with pytest.raises(StoreUnavailable):
                await store.create("owner", "chat", "during the lock")
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.finish_answer("owner", answer.id, AnswerEnd("complete", "kept for later"))  # the retry
        assert (await store.get("owner", conversation.id)).path()[-1].content == "kept for later"

    in_store(sqlite_database, scenario)


@pytest.mark.server
def test_postgres_going_away_while_running_is_unavailable_then_back() -> None:
    server = start_postgres()
    try:
        url = server.create_database("chat")
        ConversationStore(url).prepare()

        async def scenario(store: ConversationStore) -> None:
            conversation, question = await store.create("owner", "chat", "before the outage")
            answer = await store.start_answer("owner", conversation.id, question.id)
            await asyncio.to_thread(server.halt)
            with pytest.raises(StoreUnavailable):
                await store.finish_answer("owner", answer.id, AnswerEnd("complete", "saved at last"))
            with pytest.raises(StoreUnavailable):
                await store.list_conversations("owner", "chat")
            await asyncio.to_thread(server.start)
            await store.finish_answer("owner", answer.id, AnswerEnd("complete", "saved at last"))
            assert (await store.get("owner", conversation.id)).path()[-1].content == "saved at last"

        in_store(url, scenario)
    finally:
        server.stop()


def test_a_sqlite_file_that_cannot_be_opened_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "chat.db").mkdir()  # a folder where the file should be
    with pytest.raises(DatabaseUnavailable, match="cannot be opened") as refused:
        ConversationStore(f"sqlite:///{tmp_path}/chat.db").prepare()
    assert "\n" not in refused.value.message
