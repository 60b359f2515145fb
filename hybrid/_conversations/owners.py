"""What each owner keeps, counted as it is written, and the limits checked against it.

One row per owner (`owners`) holds their number of conversations and the bytes of their messages. Every
write adds to it in the same transaction as the rows it counts, and a limit is checked by the same
`UPDATE` that counts (`... WHERE conversations < :limit`): workers and hosts writing at once can never
pass a limit between a check and a write.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hybrid._conversations.errors import LimitReached
from hybrid._conversations.schema import owners


def message_size(content: str, reasoning: str | None = None, parts: Any = None, context: Any = None) -> int:
    """The bytes a message holds, as the limits count them: its texts in UTF-8, its JSON values as
    stored."""
    texts = len(content.encode()) + (len(reasoning.encode()) if reasoning else 0)
    return texts + sum(len(json.dumps(value)) for value in (parts, context) if value is not None)


async def lock(connection: AsyncConnection, names: list[str]) -> None:
    """Lock the rows of `names` before any other row (Postgres; in SQLite the writing transaction holds
    the whole file already).

    Every transaction that writes locks an owner's row first, then the conversation's, then messages:
    in one order, two transactions never wait on each other in a circle (a deadlock, which Postgres
    would end by failing one of them).
    """
    if connection.dialect.name == "sqlite":
        return
    await connection.execute(
        select(owners.c.owner)
        .where(owners.c.owner.in_(sorted(set(names))))
        .order_by(owners.c.owner)
        .with_for_update()
    )


async def claim_conversation(connection: AsyncConnection, owner: str, *, limit: int) -> None:
    """Count one more conversation of `owner`; `LimitReached` when they have `limit` already (0: none)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    await connection.execute(
        insert(owners).values(owner=owner, conversations=0, bytes=0).on_conflict_do_nothing()
    )
    counted = owners.c.conversations + 1
    statement = update(owners).where(owners.c.owner == owner).values(conversations=counted)
    if limit:
        statement = statement.where(counted <= limit)
    if (await connection.execute(statement)).rowcount == 0:
        raise LimitReached(
            "too_many_conversations",
            f"you have {limit:,} conversations, as many as this server keeps for one person: "
            "delete some to start a new one",
        )


async def add_bytes(connection: AsyncConnection, owner: str, added: int, *, limit: int = 0) -> None:
    """Count `added` bytes (negative: freed) of `owner`; with a `limit`, `LimitReached` if it would
    pass it (answers are counted with no limit: what was answered is always kept)."""
    statement = update(owners).where(owners.c.owner == owner).values(bytes=owners.c.bytes + added)
    if limit:
        statement = statement.where(owners.c.bytes + added <= limit)
    if (await connection.execute(statement)).rowcount == 0 and limit:
        raise LimitReached(
            "history_full",
            f"your conversations hold {limit:,} bytes, as much as this server keeps for one person: "
            "delete some to go on",
        )


async def release(connection: AsyncConnection, freed: dict[str, tuple[int, int]]) -> None:
    """Uncount deleted conversations: `freed` maps an owner to (conversations, bytes)."""
    for owner, (count, freed_bytes) in freed.items():
        await connection.execute(
            update(owners)
            .where(owners.c.owner == owner)
            .values(conversations=owners.c.conversations - count, bytes=owners.c.bytes - freed_bytes)
        )
