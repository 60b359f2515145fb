"""Full-text search over an owner's conversations: their titles and the text of their messages.

What users type becomes words (letters and digits; punctuation is dropped, so nothing they type is
query syntax), each matched as a prefix, all of them required: `pyth plot` finds "Plotting in Python".
Each database answers with its own index, made by the first migration:

* SQLite: FTS5 tables (`message_search`, `conversation_search`), contentless (the text is not stored
  twice), kept by triggers; their rowid is the row's integer key; `message_search_conversation`, an
  index of messages' `(id, conversation_id)`, maps a hit to its conversation.
* Postgres: GIN indexes over `to_tsvector('simple', ...)`; the expressions here must stay the ones
  indexed, or the planner falls back to reading every row.

Both lower-case words and neither stems them nor removes accents (Postgres' 'simple' configuration; FTS5's
`unicode61` tokenizer told to keep accents), so both find the same conversations. The first
`SEARCHED_CHARS` characters of a message are indexed.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Integer, column, func, literal_column, select, table, text, union_all

from hybrid._conversations.schema import conversations, messages

SEARCHED_CHARS = 100_000
"""Characters of each message that are indexed (Postgres refuses a text-search vector over 1 MB)."""
MAX_WORDS = 8
MAX_WORD_CHARS = 64

_SQLITE_SAID = text(
    "SELECT m.conversation_id FROM message_search AS f "
    "JOIN messages AS m INDEXED BY message_search_conversation ON m.id = f.rowid "
    "WHERE f.content MATCH :words"
).columns(column("conversation_id", Integer))
"""The conversations of SQLite's hits, through the narrow index by name: without statistics (hybrid
runs no `ANALYZE`), SQLite would read each hit's wide row instead, at twice the time."""
_conversation_search = table("conversation_search", column("rowid"), column("title"))


def words(query: str) -> list[str]:
    """The words of what a user typed (at most `MAX_WORDS`, each cut to `MAX_WORD_CHARS`)."""
    return [word[:MAX_WORD_CHARS] for word in re.findall(r"\w+", query.lower())[:MAX_WORDS]]


def matching(dialect: str, found: list[str]) -> ColumnElement[bool]:
    """A condition on `conversations`: its title or one of its messages holds every word of `found`.

    One `IN` over both indexes' hits: an `OR` of the two would make Postgres test the title of every
    conversation of the owner instead of asking the title's index.
    """
    if dialect == "sqlite":
        fts = " ".join(f'"{word}"*' for word in found)  # a quoted string: never an FTS5 operator
        titled = select(_conversation_search.c.rowid).where(_conversation_search.c.title.match(fts))
        said = _SQLITE_SAID.bindparams(words=fts)
    else:
        simple = literal_column("'simple'")  # a literal, as in the indexes' expressions
        query = func.to_tsquery(simple, " & ".join(f"{word}:*" for word in found))
        titles = conversations.alias("titles")
        titled = select(titles.c.id).where(func.to_tsvector(simple, titles.c.title).op("@@")(query))
        content = func.to_tsvector(simple, func.left(messages.c.content, literal_column(str(SEARCHED_CHARS))))
        said = select(messages.c.conversation_id).where(content.op("@@")(query))
    return conversations.c.id.in_(union_all(titled, said))
