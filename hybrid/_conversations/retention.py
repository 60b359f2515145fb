"""Retention: conversations not updated for `HYBRID_HISTORY_RETENTION_DAYS` are deleted for good.

Deleted in batches of `BATCH` conversations, one transaction each: a large backlog (the first run
after retention is turned on) never holds the database's write lock for long. Every worker may run it
(`ConversationStore.run_retention`): a conversation is deleted once, whoever gets there first.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hybrid._conversations import owners as tally
from hybrid._conversations.database import writing
from hybrid._conversations.schema import conversations

BATCH = 500
"""Conversations deleted per transaction."""


async def delete_older_than(engine: AsyncEngine, cutoff: datetime) -> int:
    """Delete every conversation last updated before `cutoff` (messages and feedback go with them);
    returns how many."""
    deleted = 0
    while True:
        async with writing(engine) as connection:
            doomed = (
                await connection.execute(
                    select(conversations.c.id, conversations.c.owner)
                    .where(conversations.c.updated_at < cutoff)
                    .order_by(conversations.c.updated_at)
                    .limit(BATCH)
                )
            ).all()
            if not doomed:
                return deleted
            await tally.lock(connection, [row.owner for row in doomed])
            gone = await connection.execute(
                delete(conversations)
                .where(
                    conversations.c.id.in_([row.id for row in doomed]), conversations.c.updated_at < cutoff
                )
                .returning(conversations.c.owner, conversations.c.bytes)
            )
            freed: dict[str, tuple[int, int]] = {}
            for owner, size in gone:
                count, total = freed.get(owner, (0, 0))
                freed[owner] = (count + 1, total + size)
            await tally.release(connection, freed)
            deleted += sum(count for count, _ in freed.values())
