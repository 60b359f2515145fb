"""`ConversationStore`: every user's conversations, kept by the server in SQLite or Postgres.

Every method takes the `owner` (the signed-in user, or the browser's random id) and answers only with
what is theirs: another owner's conversation or message is `NotFound`, exactly like one that does not
exist. Ids are the public ids of `records.py`; a malformed id is `NotFound` too.

The tree: a conversation's messages each have a parent (the roots: none). A question's parent is an
answer (or none), an answer's is its question; editing a question or regenerating an answer adds a
sibling, never overwrites. The conversation's `selected` leaf is the branch shown, and what the model
sees is the path from the root to it (`path`).

An answer is a row from its start (`start_answer`, status `streaming`), rewritten by checkpoints
(`checkpoint_answer`, at most every few seconds: the caller decides) and once more at its end
(`finish_answer`); those two go through the `AnswerWriter`, which commits the writes of answers ending
together in one transaction.

A store serves one event loop: create it, `prepare()` it once at start (any thread), use it from the
server's loop, `close()` it at shutdown.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import sqlite3
import threading
import uuid
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Row, delete, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection

from hybrid._conversations import export, retention, search
from hybrid._conversations import owners as tally
from hybrid._conversations.answers import AnswerWriter
from hybrid._conversations.database import UNAVAILABLE, connect, create_engine, reading, short, writing
from hybrid._conversations.errors import DatabaseUnavailable, NotFound, StoreUnavailable, bad_request
from hybrid._conversations.records import (
    AnswerEnd,
    Conversation,
    Feedback,
    Message,
    Page,
    Role,
    Status,
    Thread,
)
from hybrid._conversations.schema import conversations, feedback, messages
from hybrid._conversations.upgrade import upgrade
from hybrid._conversations.urls import database_url, parse, redacted
from hybrid._settings import Settings

logger = logging.getLogger("hybrid.conversations")

MAX_PAGE = 100
"""Most conversations one page of a list holds."""
TITLE_CHARS = 80
"""A title made from a question is cut to this, at a word."""
MAX_TITLE_CHARS = 200
MAX_COMMENT_CHARS = 2_000
RETENTION_EVERY_SECONDS = 3_600.0
"""How often `run_retention` deletes what has expired."""

_parent = messages.alias("parent")
_MESSAGE = tuple(
    {"id": messages.c.public_id, "parent_id": _parent.c.public_id}.get(field.name, messages.c.get(field.name))
    for field in fields(Message)
)
"""The columns of a `Message`, in the order of its fields (a row makes one positionally: thousands are
made per long conversation); its parent's public id comes by a join on `_parent`."""
_CONVERSATION = tuple(
    conversations.c[name] for name in ("public_id", "chat", "title", "created_at", "updated_at")
)


class ConversationStore:
    """The conversations of every owner in the database at `url` (see the module's docstring)."""

    def __init__(
        self,
        url: URL | str,
        *,
        pool_size: int = 5,
        retention_days: int = 0,
        max_conversations: int = 0,
        max_bytes: int = 0,
    ) -> None:
        self.url = parse(url) if isinstance(url, str) else url
        self.retention_days = retention_days
        self.max_conversations = max_conversations
        self.max_bytes = max_bytes
        self._engine = create_engine(self.url, pool_size=pool_size)
        self._answers = AnswerWriter(self._engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> ConversationStore:
        """The store `HYBRID_DATABASE_URL` and the `HYBRID_HISTORY_*` settings describe."""
        return cls(
            database_url(settings),
            pool_size=settings.database_pool_size,
            retention_days=settings.history_retention_days,
            max_conversations=settings.history_max_conversations,
            max_bytes=settings.history_max_bytes,
        )

    # -- start and shutdown --------------------------------------------------------------------------

    def prepare(self) -> None:
        """Connect and migrate the database to this hybrid's schema; call once at start.

        Runs on a thread with an event loop of its own (so it works where a loop runs already) and an
        engine of its own, disposed before it returns: connections belong to the loop that opened them.
        `DatabaseUnavailable` (a `ConfigurationError`), in one line, if the database cannot be reached.
        """
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._prepare())
            except BaseException as error:  # handed to the caller's thread
                failure.append(error)

        thread = threading.Thread(target=run, name="hybrid-conversations-prepare")
        thread.start()
        thread.join()
        if failure:
            raise failure[0]

    async def _prepare(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            self._open_file()
        engine = create_engine(self.url, pool_size=1)
        try:
            connection = await connect(engine, lambda reason: DatabaseUnavailable(self._unreachable(reason)))
            try:
                await upgrade(connection)
            except UNAVAILABLE as error:
                raise DatabaseUnavailable(self._unreachable(short(error))) from None
            finally:
                await connection.close()
        finally:
            await engine.dispose()

    def _open_file(self) -> None:
        """Make the SQLite file's folder, and open the file once here: a file that cannot be opened is
        told at once (and aiosqlite's thread for a failed connection may outlive the loop it reports to)."""
        assert self.url.database is not None
        folder = Path(self.url.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DatabaseUnavailable(
                f"the folder for conversations, {folder}, cannot be created ({error.strerror}): "
                "set HYBRID_DATA_DIR or HYBRID_DATABASE_URL to a writable place"
            ) from None
        try:
            sqlite3.connect(self.url.database).close()
        except sqlite3.Error as error:
            raise DatabaseUnavailable(self._unreachable(str(error))) from None

    def _unreachable(self, reason: str) -> str:
        if self.url.get_backend_name() == "sqlite":
            return (
                f"the conversation database {self.url.database} cannot be opened ({reason}): fix its "
                "folder's permissions, or set HYBRID_DATA_DIR or HYBRID_DATABASE_URL to another place"
            )
        shown = redacted(self.url.set(drivername="postgresql"))
        return (
            f"HYBRID_DATABASE_URL is set, but the database at {shown} cannot be reached ({reason}). "
            "Start it or fix the URL; unset HYBRID_DATABASE_URL to keep conversations in SQLite."
        )

    async def close(self) -> None:
        """Write what is queued, then close the pool's connections."""
        await self._answers.close()
        await self._engine.dispose()

    # -- writing a conversation ----------------------------------------------------------------------

    async def create(
        self, owner: str, chat: str, question: str, *, context: Any = None, title: str | None = None
    ) -> tuple[Conversation, Message]:
        """A new conversation of `owner` in the Chat `chat`, starting with `question` (its root), titled
        by `title` or else the question. `LimitReached` when the owner keeps as much as allowed."""
        title = _title(title) if title is not None else _title_of(question)
        now = _now()
        size = tally.message_size(question, context=context)
        async with writing(self._engine) as connection:
            await tally.claim_conversation(connection, owner, limit=self.max_conversations)
            await tally.add_bytes(connection, owner, size, limit=self.max_bytes)
            conversation_id = await connection.scalar(
                insert(conversations)
                .values(
                    public_id=_new_id(),
                    owner=owner,
                    chat=chat,
                    title=title,
                    bytes=size,
                    created_at=now,
                    updated_at=now,
                )
                .returning(conversations.c.id)
            )
            message = await self._insert_message(
                connection,
                conversation_id,
                parent=None,
                role="user",
                content=question,
                status="complete",
                size=size,
                now=now,
                context=context,
            )
            row = (
                await connection.execute(select(*_CONVERSATION).where(conversations.c.id == conversation_id))
            ).one()
        return _conversation(row), message

    async def add_question(
        self,
        owner: str,
        conversation_id: str,
        content: str,
        *,
        parent_id: str | None,
        context: Any = None,
    ) -> Message:
        """Add a question under the answer `parent_id` (None: a new root, as when the first question is
        edited) and select it. `LimitReached` when the owner's messages hold as much as allowed."""
        now = _now()
        size = tally.message_size(content, context=context)
        async with writing(self._engine) as connection:
            await tally.lock(connection, [owner])
            conversation = await self._conversation(connection, owner, conversation_id, lock=True)
            parent = None
            if parent_id is not None:
                answer = await self._message_key(connection, conversation.id, parent_id)
                if answer.role != "assistant":
                    raise bad_request("bad_parent", "a question follows an answer")
                parent = (answer.id, parent_id)
            await tally.add_bytes(connection, owner, size, limit=self.max_bytes)
            message = await self._insert_message(
                connection,
                conversation.id,
                parent=parent,
                role="user",
                content=content,
                status="complete",
                size=size,
                now=now,
                context=context,
            )
            await self._touch(connection, conversation.id, size, now)
        return message

    async def start_answer(self, owner: str, conversation_id: str, question_id: str) -> Message:
        """An empty answer to `question_id`, `streaming`, selected; a sibling of any earlier answer to
        it (regenerating)."""
        now = _now()
        async with writing(self._engine) as connection:
            await tally.lock(connection, [owner])
            conversation = await self._conversation(connection, owner, conversation_id, lock=True)
            question = await self._message_key(connection, conversation.id, question_id)
            if question.role != "user":
                raise bad_request("bad_parent", "an answer follows a question")
            message = await self._insert_message(
                connection,
                conversation.id,
                parent=(question.id, question_id),
                role="assistant",
                content="",
                status="streaming",
                size=0,
                now=now,
            )
            await self._touch(connection, conversation.id, 0, now)
        return message

    async def checkpoint_answer(
        self, owner: str, answer_id: str, content: str, *, reasoning: str | None = None, parts: Any = None
    ) -> None:
        """Save what a streaming answer holds so far (at most every few seconds: a crash then loses only
        what came since). A 409 if the answer has ended."""
        size = tally.message_size(content, reasoning, parts)
        values = {"content": content, "reasoning": reasoning, "parts": parts, "bytes": size}
        await self._answers.write(owner, _checked_id(answer_id, "answer"), values)

    async def finish_answer(self, owner: str, answer_id: str, end: AnswerEnd) -> None:
        """Save how the answer ended, with everything known of it. Always saved, past the owner's
        limits too (the question was accepted below them). `StoreUnavailable`: not saved; retry."""
        values = {
            "status": end.status,
            "content": end.content,
            "reasoning": end.reasoning,
            "parts": end.parts,
            "model": end.model,
            "prompt_tokens": end.prompt_tokens,
            "completion_tokens": end.completion_tokens,
            "ttft_ms": end.ttft_ms,
            "duration_ms": end.duration_ms,
            "error": end.error,
            "bytes": tally.message_size(end.content, end.reasoning, end.parts),
        }
        await self._answers.write(owner, _checked_id(answer_id, "answer"), values)

    async def select(self, owner: str, conversation_id: str, message_id: str) -> str:
        """Show the branch through `message_id` (a sibling picked by ‹1/2›): select the newest leaf
        below it, and return that leaf's id."""
        async with writing(self._engine) as connection:
            conversation = await self._conversation(connection, owner, conversation_id, lock=True)
            start = await self._message_key(connection, conversation.id, message_id)
            tree = (
                await connection.execute(
                    select(messages.c.id, messages.c.parent_id, messages.c.public_id)
                    .where(messages.c.conversation_id == conversation.id)
                    .order_by(messages.c.id)
                )
            ).all()
            newest_child = {row.parent_id: row for row in tree}  # in key order: the newest is kept
            leaf = next(row for row in tree if row.id == start.id)
            while leaf.id in newest_child:
                leaf = newest_child[leaf.id]
            await connection.execute(
                update(conversations).where(conversations.c.id == conversation.id).values(selected_id=leaf.id)
            )
        return leaf.public_id

    async def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        """Give the conversation a new title (blank space trimmed; 1 to `MAX_TITLE_CHARS` characters)."""
        title = _title(title)
        async with writing(self._engine) as connection:
            conversation = await self._conversation(connection, owner, conversation_id, lock=True)
            await connection.execute(
                update(conversations).where(conversations.c.id == conversation.id).values(title=title)
            )
            row = (
                await connection.execute(select(*_CONVERSATION).where(conversations.c.id == conversation.id))
            ).one()
        return _conversation(row)

    async def delete(self, owner: str, conversation_id: str) -> None:
        """Delete the conversation for good: its messages and their feedback go with it."""
        public_id = _checked_id(conversation_id)
        async with writing(self._engine) as connection:
            await tally.lock(connection, [owner])
            size = await connection.scalar(
                delete(conversations)
                .where(conversations.c.public_id == public_id, conversations.c.owner == owner)
                .returning(conversations.c.bytes)
            )
            if size is None:
                raise NotFound()
            await tally.release(connection, {owner: (1, size)})

    async def set_feedback(
        self,
        owner: str,
        conversation_id: str,
        message_id: str,
        rating: int | None,
        comment: str | None = None,
    ) -> Feedback | None:
        """Rate an answer +1 or -1 with an optional comment, replacing an earlier rating; `rating` None
        clears it (and returns None)."""
        if rating not in (1, -1, None):
            raise bad_request("bad_rating", "a rating is 1 or -1 (or none, to clear it)")
        if comment is not None:
            comment = comment.strip() or None
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise bad_request("bad_comment", f"a comment holds at most {MAX_COMMENT_CHARS:,} characters")
        now = _now()
        async with writing(self._engine) as connection:
            conversation = await self._conversation(connection, owner, conversation_id, lock=True)
            answer = await self._message_key(connection, conversation.id, message_id)
            if answer.role != "assistant":
                raise bad_request("bad_message", "only answers take feedback")
            if rating is None:
                await connection.execute(delete(feedback).where(feedback.c.message_id == answer.id))
                return None
            upsert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(feedback)
            row = (
                await connection.execute(
                    upsert.values(
                        message_id=answer.id,
                        conversation_id=conversation.id,
                        rating=rating,
                        comment=comment,
                        created_at=now,
                        updated_at=now,
                    )
                    .on_conflict_do_update(
                        index_elements=[feedback.c.message_id],
                        set_={"rating": rating, "comment": comment, "updated_at": now},
                    )
                    .returning(
                        feedback.c.rating, feedback.c.comment, feedback.c.created_at, feedback.c.updated_at
                    )
                )
            ).one()
        return Feedback(message_id, row.rating, row.comment, row.created_at, row.updated_at)

    # -- reading -------------------------------------------------------------------------------------

    async def get(self, owner: str, conversation_id: str) -> Thread:
        """The whole conversation: every message, the selected leaf, the feedback."""
        async with reading(self._engine) as connection:
            conversation = await self._conversation(connection, owner, conversation_id)
            rows = (
                await connection.execute(
                    select(*_MESSAGE, messages.c.id.label("key"))
                    .outerjoin(_parent, _parent.c.id == messages.c.parent_id)
                    .where(messages.c.conversation_id == conversation.id)
                    .order_by(messages.c.id)
                )
            ).all()
            ratings = (
                await connection.execute(
                    select(
                        messages.c.public_id,
                        feedback.c.rating,
                        feedback.c.comment,
                        feedback.c.created_at,
                        feedback.c.updated_at,
                    )
                    .join(messages, messages.c.id == feedback.c.message_id)
                    .where(feedback.c.conversation_id == conversation.id)
                )
            ).all()
        selected = next((row.public_id for row in rows if row.key == conversation.selected_id), None)
        return Thread(
            conversation=_conversation(conversation),
            messages=tuple(_message(row) for row in rows),
            selected=selected,
            feedback={row.public_id: Feedback(*row) for row in ratings},
        )

    async def path(self, owner: str, conversation_id: str, leaf_id: str | None = None) -> tuple[Message, ...]:
        """What the model sees: the messages from the root to `leaf_id` (by default the selected leaf),
        oldest first, read up the tree in one query."""
        async with reading(self._engine) as connection:
            conversation = await self._conversation(connection, owner, conversation_id)
            leaf = conversation.selected_id
            if leaf_id is not None:
                leaf = (await self._message_key(connection, conversation.id, leaf_id)).id
            if leaf is None:
                return ()
            up = select(messages.c.id, messages.c.parent_id).where(messages.c.id == leaf).cte(recursive=True)
            up = up.union_all(
                select(messages.c.id, messages.c.parent_id).join(up, messages.c.id == up.c.parent_id)
            )
            rows = await connection.execute(
                select(*_MESSAGE)
                .join(up, up.c.id == messages.c.id)
                .outerjoin(_parent, _parent.c.id == messages.c.parent_id)
                .order_by(messages.c.id)
            )
            return tuple(_message(row) for row in rows)

    async def list_conversations(
        self, owner: str, chat: str, *, before: str | None = None, limit: int = 50, query: str | None = None
    ) -> Page:
        """The owner's conversations of `chat`, newest first (by their last message), `limit` (at most
        `MAX_PAGE`) after the cursor `before`; with `query`, those whose title or messages hold its
        words. Reads metadata only; pages by key, so rows added meanwhile shift no page."""
        if not 1 <= limit <= MAX_PAGE:
            raise bad_request("bad_limit", f"a page holds 1 to {MAX_PAGE} conversations")
        statement = (
            select(*_CONVERSATION, conversations.c.id)
            .where(conversations.c.owner == owner, conversations.c.chat == chat)
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .limit(limit + 1)
        )
        if before is not None:
            updated_at, key = _cursor(before)
            statement = statement.where(
                tuple_(conversations.c.updated_at, conversations.c.id) < tuple_(updated_at, key)
            )
        found = search.words(query or "")
        async with reading(self._engine) as connection:
            if found:
                statement = statement.where(search.matching(connection.dialect.name, found))
            rows = (await connection.execute(statement)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(
            conversations=tuple(_conversation(row) for row in rows),
            next=_make_cursor(rows[-1].updated_at, rows[-1].id) if more else None,
        )

    async def export_markdown(self, owner: str, conversation_id: str) -> str:
        """The selected branch as Markdown (`export.markdown`)."""
        return export.markdown(await self.get(owner, conversation_id))

    async def export_json(self, owner: str, conversation_id: str) -> dict[str, Any]:
        """The whole tree as JSON (`export.thread_json`)."""
        return export.thread_json(await self.get(owner, conversation_id))

    # -- retention -----------------------------------------------------------------------------------

    async def delete_expired(self, now: datetime | None = None) -> int:
        """Delete the conversations not updated for `retention_days` (none when 0); returns how many."""
        if not self.retention_days:
            return 0
        cutoff = (now or _now()) - timedelta(days=self.retention_days)
        return await retention.delete_older_than(self._engine, cutoff)

    async def run_retention(self, every: float = RETENTION_EVERY_SECONDS) -> None:
        """Delete expired conversations now and every `every` seconds, until cancelled (a task of the
        app's lifespan). A failed round is logged and tried again at the next."""
        while self.retention_days:
            try:
                deleted = await self.delete_expired()
            except StoreUnavailable:
                pass  # logged where it failed
            else:
                if deleted:
                    logger.info("deleted %d conversations older than %d days", deleted, self.retention_days)
            await asyncio.sleep(every)

    # -- helpers -------------------------------------------------------------------------------------

    @staticmethod
    async def _conversation(
        connection: AsyncConnection, owner: str, conversation_id: str, *, lock: bool = False
    ) -> Row[Any]:
        statement = select(*_CONVERSATION, conversations.c.id, conversations.c.selected_id).where(
            conversations.c.public_id == _checked_id(conversation_id), conversations.c.owner == owner
        )
        row = (await connection.execute(statement.with_for_update() if lock else statement)).one_or_none()
        if row is None:
            raise NotFound()
        return row

    @staticmethod
    async def _message_key(connection: AsyncConnection, conversation: int, message_id: str) -> Row[Any]:
        row = (
            await connection.execute(
                select(messages.c.id, messages.c.role).where(
                    messages.c.public_id == _checked_id(message_id, "message"),
                    messages.c.conversation_id == conversation,
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound("message")
        return row

    @staticmethod
    async def _insert_message(
        connection: AsyncConnection,
        conversation: int,
        *,
        parent: tuple[int, str] | None,
        role: Role,
        content: str,
        status: Status,
        size: int,
        now: datetime,
        context: Any = None,
    ) -> Message:
        """Insert a message under `parent` (its key and public id) and select it as its conversation's
        leaf."""
        public_id = _new_id()
        key = await connection.scalar(
            insert(messages)
            .values(
                public_id=public_id,
                conversation_id=conversation,
                parent_id=parent and parent[0],
                role=role,
                content=content,
                status=status,
                bytes=size,
                context=context,
                created_at=now,
                updated_at=now,
            )
            .returning(messages.c.id)
        )
        await connection.execute(
            update(conversations).where(conversations.c.id == conversation).values(selected_id=key)
        )
        return Message(
            id=public_id,
            parent_id=parent and parent[1],
            role=role,
            content=content,
            status=status,
            created_at=now,
            updated_at=now,
            context=context,
        )

    @staticmethod
    async def _touch(connection: AsyncConnection, conversation: int, added: int, now: datetime) -> None:
        """A message was written: the conversation is newer and holds `added` more bytes."""
        await connection.execute(
            update(conversations)
            .where(conversations.c.id == conversation)
            .values(updated_at=now, bytes=conversations.c.bytes + added)
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


def _checked_id(public_id: str, what: str = "conversation") -> str:
    """`public_id` in its canonical form; `NotFound` for anything that is not an id."""
    try:
        return str(uuid.UUID(public_id))
    except (ValueError, TypeError, AttributeError):
        raise NotFound(what) from None


def _title(title: str) -> str:
    cleaned = " ".join(title.split())
    if not 1 <= len(cleaned) <= MAX_TITLE_CHARS:
        raise bad_request("bad_title", f"a title holds 1 to {MAX_TITLE_CHARS} characters")
    return cleaned


def _title_of(question: str) -> str:
    """A title from the first question: its first `TITLE_CHARS` characters, cut at a word."""
    words = " ".join(question.split())
    if len(words) <= TITLE_CHARS:
        return words or "New conversation"
    cut = words[: TITLE_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def _make_cursor(updated_at: datetime, key: int) -> str:
    raw = json.dumps([updated_at.isoformat(), key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        updated_at = datetime.fromisoformat(moment)
        if not isinstance(key, int) or updated_at.tzinfo is None:
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise bad_request("bad_cursor", "this cursor is not one the server gave") from None
    return updated_at, key


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(row.public_id, row.chat, row.title, row.created_at, row.updated_at)


def _message(row: Row[Any]) -> Message:
    return Message(*row[: len(_MESSAGE)])
