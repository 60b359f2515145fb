"""Bring the database to the newest schema, with Alembic, one worker at a time.

Several workers start at once, and each calls `upgrade`: the first takes a lock and migrates, the
others wait on it and then find nothing to do. The lock is the database's own, held for the
migration's transaction (both databases change their schema transactionally, so a migration that fails
leaves the previous schema whole): Postgres' `pg_advisory_xact_lock`, SQLite's write lock
(`BEGIN IMMEDIATE`, waited on for up to `LOCK_WAIT_SECONDS`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hybrid._errors import ConfigurationError

MIGRATIONS = Path(__file__).parent / "migrations"
ADVISORY_LOCK = 0x6879627269640001
"""Postgres' lock for migrating, one number for every hybrid ("hybrid" in ASCII, then 1)."""
LOCK_WAIT_SECONDS = 120
"""How long a worker waits for another to finish migrating before it gives up (SQLite)."""


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for hybrid's migrations, on `connection` (for commands that run them)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision this version of hybrid knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "the migrations folder holds no revision"
    return revision


def revisions() -> list[str]:
    """Every revision, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


async def upgrade(connection: AsyncConnection, revision: str = "head") -> None:
    """Migrate the database of `connection` to `revision` (the newest by default), holding the lock.

    `connection` must have no transaction yet: the lock and the migration share the one begun here.
    A database already past this version's newest revision (migrated by a newer hybrid) is refused.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        await connection.exec_driver_sql(f"PRAGMA busy_timeout = {LOCK_WAIT_SECONDS * 1000}")
        await connection.commit()  # the statement began a transaction: the lock needs a new one
        connection = await connection.execution_options(hybrid_write=True)
    async with connection.begin():
        if not sqlite:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in revisions():
        raise ConfigurationError(
            f"the conversation database is at revision {current}, which this hybrid does not know: it was "
            "upgraded by a newer hybrid. Upgrade hybrid, or point HYBRID_DATABASE_URL at another database.",
            type="database_too_new",
        )
    try:
        command.upgrade(alembic_config(connection), revision)
    except CommandError as exc:
        raise ConfigurationError(f"the conversation database cannot be migrated: {exc}") from exc
