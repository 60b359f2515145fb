"""Conversations, messages, feedback and owners' tallies, with full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PRIMARY KEY, the rowid
TIME = sa.DateTime(timezone=True)
SEARCHED_CHARS = 100_000  # of each message (Postgres refuses a text-search vector over 1 MB)

SQLITE_SEARCH = [
    # Contentless FTS5 tables: the text stays in its table; rowid is the row's key. Tokens as Postgres'
    # 'simple' configuration makes them: lower case, accents kept.
    "CREATE VIRTUAL TABLE message_search USING fts5("
    "content, content='', tokenize='unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE conversation_search USING fts5("
    "title, content='', tokenize='unicode61 remove_diacritics 0')",
    # A hit's conversation, read from this narrow index rather than the messages' wide rows.
    "CREATE INDEX message_search_conversation ON messages (id, conversation_id)",
    f"""CREATE TRIGGER message_search_insert AFTER INSERT ON messages BEGIN
        INSERT INTO message_search(rowid, content) VALUES (new.id, substr(new.content, 1, {SEARCHED_CHARS}));
    END""",
    f"""CREATE TRIGGER message_search_update AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO message_search(message_search, rowid, content)
            VALUES ('delete', old.id, substr(old.content, 1, {SEARCHED_CHARS}));
        INSERT INTO message_search(rowid, content) VALUES (new.id, substr(new.content, 1, {SEARCHED_CHARS}));
    END""",
    f"""CREATE TRIGGER message_search_delete AFTER DELETE ON messages BEGIN
        INSERT INTO message_search(message_search, rowid, content)
            VALUES ('delete', old.id, substr(old.content, 1, {SEARCHED_CHARS}));
    END""",
    """CREATE TRIGGER conversation_search_insert AFTER INSERT ON conversations BEGIN
        INSERT INTO conversation_search(rowid, title) VALUES (new.id, new.title);
    END""",
    """CREATE TRIGGER conversation_search_update AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversation_search(conversation_search, rowid, title)
            VALUES ('delete', old.id, old.title);
        INSERT INTO conversation_search(rowid, title) VALUES (new.id, new.title);
    END""",
    """CREATE TRIGGER conversation_search_delete AFTER DELETE ON conversations BEGIN
        INSERT INTO conversation_search(conversation_search, rowid, title)
            VALUES ('delete', old.id, old.title);
    END""",
]

POSTGRES_SEARCH = [
    "CREATE INDEX message_search ON messages "
    f"USING gin (to_tsvector('simple', left(content, {SEARCHED_CHARS})))",
    "CREATE INDEX conversation_search ON conversations USING gin (to_tsvector('simple', title))",
]


def upgrade() -> None:
    op.create_table(
        "owners",
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("conversations", sa.Integer, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("owner", name="owners_pkey"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", KEY, nullable=False, autoincrement=True),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("chat", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("selected_id", KEY, nullable=True),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="conversations_pkey"),
        sa.UniqueConstraint("public_id", name="conversations_public_id_key"),
    )
    op.create_index("conversations_listed", "conversations", ["owner", "chat", "updated_at", "id"])
    op.create_index("conversations_updated", "conversations", ["updated_at"])
    op.create_table(
        "messages",
        sa.Column("id", KEY, nullable=False, autoincrement=True),
        sa.Column("public_id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", KEY, nullable=False),
        sa.Column("parent_id", KEY, nullable=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("model", sa.Text, nullable=True),
        sa.Column("prompt_tokens", sa.Integer, nullable=True),
        sa.Column("completion_tokens", sa.Integer, nullable=True),
        sa.Column("ttft_ms", sa.Integer, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=True),
        sa.Column("reasoning", sa.Text, nullable=True),
        sa.Column("parts", sa.JSON, nullable=True),
        sa.Column("context", sa.JSON, nullable=True),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="messages_pkey"),
        sa.UniqueConstraint("public_id", name="messages_public_id_key"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="messages_conversation_id_fkey",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["messages.id"], name="messages_parent_id_fkey", ondelete="CASCADE"
        ),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="messages_role_check"),
        sa.CheckConstraint(
            "status IN ('complete', 'streaming', 'stopped', 'failed')", name="messages_status_check"
        ),
    )
    op.create_index("messages_in_conversation", "messages", ["conversation_id", "id"])
    op.create_index("messages_parent_id_index", "messages", ["parent_id"])
    op.create_table(
        "feedback",
        sa.Column("message_id", KEY, nullable=False),
        sa.Column("conversation_id", KEY, nullable=False),
        sa.Column("rating", sa.SmallInteger, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("message_id", name="feedback_pkey"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="feedback_message_id_fkey", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="feedback_conversation_id_fkey",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("rating IN (-1, 1)", name="feedback_rating_check"),
    )
    op.create_index("feedback_conversation_id_index", "feedback", ["conversation_id"])
    for statement in SQLITE_SEARCH if op.get_bind().dialect.name == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    for table in ("feedback", "messages", "conversations", "owners"):
        op.drop_table(table)  # with their triggers and indexes
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_search")
        op.execute("DROP TABLE conversation_search")
