"""`AnswerWriter`: checkpoints and ends of answers, written together (group commit).

An answer is written when it starts, when it ends, and at most every few seconds between (a
checkpoint, so that a crash loses little); never per token. Answers tend to end together (a burst of
questions, a shutdown), and one transaction per answer would queue them behind the database's one
writer (SQLite) or the pool's few connections. So each write joins a queue, and one flush at a time
writes everything queued in one transaction, with one statement per kind of row: the first write
after a quiet moment is written at once, and the ones that arrive meanwhile share the next flush.

A write resolves when its flush commits: `NotFound` if the answer is not the owner's, a 409 if it has
ended already, `StoreUnavailable` if the database failed (nothing of that flush was written: the
caller may retry).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hybrid._conversations import owners as tally
from hybrid._conversations.database import writing
from hybrid._conversations.errors import NotFound, StoreUnavailable, conflict
from hybrid._conversations.schema import conversations, messages, owners

MAX_BATCH = 500
"""Writes in one flush at most: a transaction stays short however many answers end at once."""


@dataclass(eq=False)
class _Write:
    owner: str
    answer_id: str
    values: dict[str, Any]
    """Columns of the answer's row; a checkpoint's and an end's each have their own set of keys."""
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class AnswerWriter:
    """The queue of answer writes of one store, flushed one transaction at a time."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: list[_Write] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, owner: str, answer_id: str, values: dict[str, Any]) -> None:
        """Write `values` into the streaming answer `answer_id` (a canonical id) of `owner` (with its
        `bytes`), and count the bytes it adds; returns once committed."""
        write = _Write(owner, answer_id, values)
        self._queue.append(write)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())
        await asyncio.shield(write.done)  # a caller that gives up does not take the write back

    async def close(self) -> None:
        """Wait for the writes queued so far."""
        if self._flushing is not None:
            await asyncio.shield(self._flushing)

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch = self._take()
                try:
                    failures = await self._commit(batch)
                except BaseException as error:  # each waiting write gets it
                    for write in batch:
                        own = StoreUnavailable(error.reason) if isinstance(error, StoreUnavailable) else error
                        write.done.set_exception(own)  # its own: a shared one would gather every traceback
                    if isinstance(error, asyncio.CancelledError):
                        raise
                else:
                    for write in batch:
                        failure = failures.get(write)
                        if failure is None:
                            write.done.set_result(None)
                        else:
                            write.done.set_exception(failure)
        finally:
            self._flushing = None

    def _take(self) -> list[_Write]:
        """The next batch: at most `MAX_BATCH` writes, one per answer (a second write of the same answer
        waits for the next flush, so writes of one answer are applied in order)."""
        batch: list[_Write] = []
        rest: list[_Write] = []
        seen: set[str] = set()
        for write in self._queue:
            if write.answer_id in seen or len(batch) == MAX_BATCH:
                rest.append(write)
            else:
                seen.add(write.answer_id)
                batch.append(write)
        self._queue = rest
        return batch

    async def _commit(self, batch: list[_Write]) -> dict[_Write, Exception]:
        failures: dict[_Write, Exception] = {}
        async with writing(self._engine) as connection:
            found = await self._answers(connection, [write.answer_id for write in batch])
            valid: list[tuple[_Write, Any]] = []
            for write in batch:
                row = found.get(write.answer_id)
                if row is None or row.owner != write.owner or row.role != "assistant":
                    failures[write] = NotFound("answer")
                elif row.status != "streaming":
                    failures[write] = conflict("answer_ended", f"the answer has ended already ({row.status})")
                else:
                    valid.append((write, row))
            if valid:
                await self._apply(connection, valid)
        return failures

    @staticmethod
    async def _answers(connection: AsyncConnection, answer_ids: list[str]) -> dict[str, Any]:
        rows = await connection.execute(
            select(
                messages.c.id,
                messages.c.public_id,
                messages.c.conversation_id,
                messages.c.role,
                messages.c.status,
                messages.c.bytes,
                conversations.c.owner,
            )
            .join(conversations, conversations.c.id == messages.c.conversation_id)
            .where(messages.c.public_id.in_(answer_ids))
        )
        return {row.public_id: row for row in rows}

    @staticmethod
    async def _apply(connection: AsyncConnection, valid: list[tuple[_Write, Any]]) -> None:
        """Count, then write, in the order every writer locks rows: owners, conversations, messages."""
        now = datetime.now(UTC)
        await tally.lock(connection, [row.owner for _, row in valid])
        alive = set(
            await connection.scalars(
                select(conversations.c.id)
                .where(conversations.c.id.in_(sorted({row.conversation_id for _, row in valid})))
                .order_by(conversations.c.id)
                .with_for_update()
            )
        )  # a conversation deleted since the answers were read: its answers' bytes are not counted
        valid = [(write, row) for write, row in valid if row.conversation_id in alive]
        added: dict[int, int] = {}
        by_owner: dict[str, int] = {}
        for write, row in valid:
            delta = write.values["bytes"] - row.bytes
            added[row.conversation_id] = added.get(row.conversation_id, 0) + delta
            by_owner[row.owner] = by_owner.get(row.owner, 0) + delta
        if not valid:
            return
        await connection.execute(
            update(owners)
            .where(owners.c.owner == bindparam("o"))
            .values(bytes=owners.c.bytes + bindparam("n")),
            [{"o": owner, "n": n} for owner, n in sorted(by_owner.items())],
        )
        await connection.execute(
            update(conversations)
            .where(conversations.c.id == bindparam("c"))
            .values(bytes=conversations.c.bytes + bindparam("n"), updated_at=now),
            [{"c": conversation, "n": n} for conversation, n in sorted(added.items())],
        )
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for write, row in sorted(valid, key=lambda pair: pair[1].id):
            params = {f"new_{key}": value for key, value in write.values.items()}
            shapes.setdefault(tuple(sorted(write.values)), []).append({"key": row.id, **params})
        for keys, rows in shapes.items():
            await connection.execute(
                update(messages)
                .where(messages.c.id == bindparam("key"))
                .values({**{key: bindparam(f"new_{key}") for key in keys}, "updated_at": now}),
                rows,
            )
