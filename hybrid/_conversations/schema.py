"""The tables of the conversation store, as the store's queries see them (SQLAlchemy Core).

The database itself is made by the migrations (`migrations/versions/`), which are history and never
import this module; `tests/conversations/test_migrations.py` checks that the migrated database and
these tables agree. Both databases get the same tables:

* `conversations`: one row per conversation: its owner, the Chat it belongs to, its title, its
  selected leaf message (the branch shown), the bytes its messages hold; listed per owner and Chat,
  newest first, by the index on `(owner, chat, updated_at, id)`;
* `messages`: one row per question or answer, each with its parent (a tree: an edited question or a
  regenerated answer is a sibling); append-only except the answer being written;
* `feedback`: at most one rating (+1/-1) with an optional comment per answer;
* `owners`: what each owner keeps (conversations, bytes), counted as messages are written, so that the
  limits are checked in one row.

Rows have an integer key (SQLite's rowid: stable across `VACUUM`, which the full-text index needs) and
conversations and messages a random public id, the only id that leaves the database. Full-text search
lives beside the tables, one way per database (`search.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)

ROLES = ("user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "failed")
"""How a message stands: a question is `complete` at once; an answer is `streaming` while it is written,
then `complete`, `stopped` (by its user, the part written kept) or `failed` (with its `error`)."""


class Timestamp(TypeDecorator[datetime]):
    """An aware UTC `datetime` in both databases (SQLite's own type forgets the time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the store takes aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Key = BigInteger().with_variant(Integer(), "sqlite")
"""An integer key; in SQLite exactly `INTEGER PRIMARY KEY`, which makes it the rowid."""
PublicId = Uuid(as_uuid=False)
Json = JSON(none_as_null=True)

metadata = MetaData(
    naming_convention={
        "ix": "%(table_name)s_%(column_0_N_name)s_index",
        "uq": "%(table_name)s_%(column_0_N_name)s_key",
        "ck": "%(table_name)s_%(constraint_name)s_check",
        "fk": "%(table_name)s_%(column_0_name)s_fkey",
        "pk": "%(table_name)s_pkey",
    }
)
"""Constraint names spelled out, so that a later migration can name what it alters on both databases."""

owners = Table(
    "owners",
    metadata,
    Column("owner", Text, primary_key=True),
    Column("conversations", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("public_id", PublicId, nullable=False, unique=True),
    Column("owner", Text, nullable=False),
    Column("chat", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("selected_id", Key, nullable=True),  # no foreign key: the two tables would refer to each other
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("conversations_listed", "owner", "chat", "updated_at", "id"),
    Index("conversations_updated", "updated_at"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("public_id", PublicId, nullable=False, unique=True),
    Column("conversation_id", Key, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Key, ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, index=True),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("error", Text, nullable=True),
    Column("model", Text, nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("ttft_ms", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("reasoning", Text, nullable=True),
    Column("parts", Json, nullable=True),
    Column("context", Json, nullable=True),
    Column("bytes", Integer, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    CheckConstraint("role IN ('user', 'assistant')", name="role"),
    CheckConstraint("status IN ('complete', 'streaming', 'stopped', 'failed')", name="status"),
    Index("messages_in_conversation", "conversation_id", "id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("message_id", Key, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "conversation_id",
        Key,
        ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    CheckConstraint("rating IN (-1, 1)", name="rating"),
)
