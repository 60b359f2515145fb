"""`HYBRID_DATABASE_URL` in the forms users write, the data folder, and the store the settings make."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybrid._conversations.store import ConversationStore
from hybrid._conversations.urls import database_url, parse
from hybrid._settings import Settings, SettingsError, data_dir


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("sqlite:////srv/hybrid/chat.db", "sqlite+aiosqlite:////srv/hybrid/chat.db"),
        ("sqlite+aiosqlite:////srv/chat.db", "sqlite+aiosqlite:////srv/chat.db"),
        ("postgresql://me:pw@db:5432/chat", "postgresql+asyncpg://me:pw@db:5432/chat"),
        ("postgres://me:pw@db/chat", "postgresql+asyncpg://me:pw@db/chat"),
        ("postgresql+asyncpg://me@db/chat", "postgresql+asyncpg://me@db/chat"),
        ("postgresql://me:pw@db/chat?sslmode=require", "postgresql+asyncpg://me:pw@db/chat?ssl=require"),
        (" postgresql://me:p%40ss@db/chat ", "postgresql+asyncpg://me:p%40ss@db/chat"),
    ],
)
def test_the_forms_users_write_get_hybrids_drivers(written: str, meant: str) -> None:
    assert parse(written).render_as_string(hide_password=False) == meant


def test_a_relative_sqlite_path_is_taken_from_where_the_server_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse("sqlite:///data/chat.db").database == str(tmp_path / "data" / "chat.db")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse("sqlite:///~/chat.db").database == str(tmp_path / "home" / "chat.db")


@pytest.mark.parametrize(
    ("written", "why"),
    [
        ("mysql://me:secret@db/chat", "SQLite or Postgres"),
        ("postgresql+psycopg2://me:secret@db/chat", "SQLite or Postgres"),
        ("sqlite://", "needs a file"),
        ("sqlite:///:memory:", "needs a file"),
        ("sqlite:///chat.db?mode=ro", "remove the query"),
        ("postgresql://me:secret@db/chat?application_name=x", "only sslmode"),
        ("postgresql://me:secret@db/chat?sslmode=sometimes", "sslmode must be one of"),
        ("postgresql://me:secret@db", "names no database"),
        ("not a url", "write it as sqlite:///"),
    ],
)
def test_other_urls_are_refused_at_start_without_showing_the_password(written: str, why: str) -> None:
    with pytest.raises(SettingsError) as refused:
        parse(written)
    assert why in refused.value.message
    assert refused.value.message.startswith("HYBRID_DATABASE_URL ")
    assert "secret" not in refused.value.message


def test_the_data_folder_is_the_setting_else_xdg_else_the_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir(Settings(data_dir="~/kept")) == tmp_path / "home" / "kept"
    assert data_dir(Settings(), {"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/hybrid")
    assert data_dir(Settings(), {"XDG_DATA_HOME": "relative"}) == tmp_path / "home" / ".local/share/hybrid"
    assert data_dir(Settings(), {}) == tmp_path / "home" / ".local/share/hybrid"


def test_unset_the_database_is_sqlite_in_the_data_folder() -> None:
    """The tests' data folder is a temporary one (tests/conftest.py), never a real home."""
    settings = Settings.from_env()
    url = database_url(settings)
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == str(data_dir(settings) / "conversations.db")
    assert "hybrid-tests-data-" in url.database


def test_the_store_takes_its_database_pool_and_limits_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HYBRID_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db",
            "HYBRID_DATABASE_POOL_SIZE": "3",
            "HYBRID_HISTORY_RETENTION_DAYS": "90",
            "HYBRID_HISTORY_MAX_CONVERSATIONS": "1000",
            "HYBRID_HISTORY_MAX_BYTES": "50000000",
        }
    )
    store = ConversationStore.from_settings(settings)
    assert store.url.database == str(tmp_path / "chat.db")
    assert (store.retention_days, store.max_conversations, store.max_bytes) == (90, 1000, 50_000_000)
    for name in ("HYBRID_HISTORY_MAX_BYTES", "HYBRID_DATABASE_POOL_SIZE"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "-1"})
