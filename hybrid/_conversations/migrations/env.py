"""Alembic's entry to the migrations: run on the connection `hybrid._conversations.upgrade` hands it.

hybrid runs its migrations itself at start (`ConversationStore.prepare()`); there is no `alembic.ini`
and no URL here. A developer adding a migration writes it by hand next to the others (see
`docs/conversations.md`, "Migrations"): each is frozen history, so it spells out its own tables rather
than import today's `schema.py`.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    transaction_per_migration=False,
)
with context.begin_transaction():  # joins the transaction the caller holds (and its lock)
    context.run_migrations()
