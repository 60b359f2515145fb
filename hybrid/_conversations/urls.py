"""`HYBRID_DATABASE_URL` in the plain forms people write, as the SQLAlchemy URL of the async driver.

Users write `sqlite:///relative/file.db`, `sqlite:////absolute/file.db` or
`postgresql://user:password@host:5432/db` (also `postgres://`, as hosting platforms print it); which
driver serves them is hybrid's business: aiosqlite for SQLite, asyncpg for Postgres. An explicit
`+aiosqlite` or `+asyncpg` is accepted; another driver, another database, an in-memory SQLite or a query
parameter hybrid would pass on blindly is refused at start with a `SettingsError` that shows the URL
without its password.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from hybrid._errors import ConfigurationError
from hybrid._settings import Settings, SettingsError, data_dir

DEFAULT_FILE = "conversations.db"
"""The SQLite file in the data folder when `HYBRID_DATABASE_URL` is unset."""

SQLITE_DRIVERS = ("sqlite", "sqlite+aiosqlite")
POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+asyncpg")

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
"""libpq's `sslmode` values, which asyncpg takes as its `ssl` argument."""

FORMS = "sqlite:///path/to/file.db or postgresql://user:password@host:5432/db"


def database_url(settings: Settings) -> URL:
    """The URL of the conversation database: `HYBRID_DATABASE_URL`, or SQLite in the data folder."""
    if settings.database_url:
        return parse(settings.database_url)
    return URL.create("sqlite+aiosqlite", database=str(data_dir(settings) / DEFAULT_FILE))


def parse(raw: str) -> URL:
    """`raw` as the async driver's URL; a `SettingsError` naming the forms hybrid understands if not."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        raise _refused(raw, f"write it as {FORMS}") from None
    if url.drivername in SQLITE_DRIVERS:
        return _sqlite(url)
    if url.drivername in POSTGRES_DRIVERS:
        return _postgres(url)
    raise _refused(raw, f"hybrid keeps conversations in SQLite or Postgres: {FORMS}")


def redacted(url: URL | str) -> str:
    """`url` without its password, for messages and logs."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except ArgumentError:
            return "(an unreadable URL)"
    return url.render_as_string(hide_password=True)


def _sqlite(url: URL) -> URL:
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise _refused(url, "it needs a file (sqlite:///path/to/file.db): in memory, conversations vanish")
    if url.query:
        raise _refused(url, "hybrid sets SQLite's options itself: remove the query (?...)")
    path = Path(url.database).expanduser().absolute()
    return URL.create("sqlite+aiosqlite", database=str(path))


def _postgres(url: URL) -> URL:
    if importlib.util.find_spec("asyncpg") is None:
        raise ConfigurationError(
            "HYBRID_DATABASE_URL names Postgres, but its driver is not installed: "
            "pip install 'dash-hybrid[postgres]'",
            type="postgres_missing",
        )
    query = dict(url.query)
    ssl = query.pop("sslmode", None) or query.pop("ssl", None)
    if query:
        raise _refused(url, f"hybrid understands only sslmode in the query, not {', '.join(sorted(query))}")
    if ssl is not None and ssl not in SSL_MODES:
        raise _refused(url, f"sslmode must be one of {', '.join(SSL_MODES)}")
    if not url.database:
        raise _refused(url, "it names no database (postgresql://user:password@host:5432/db)")
    return url.set(drivername="postgresql+asyncpg", query={"ssl": ssl} if ssl else {})


def _refused(url: URL | str, why: str) -> SettingsError:
    return SettingsError(f"HYBRID_DATABASE_URL {redacted(url)} cannot be used: {why}")
