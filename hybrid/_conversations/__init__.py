"""The conversation store: every user's conversations, kept by the server (SQLite by default, Postgres
for several hosts).

`store.py` holds `ConversationStore`, the one entry: create, continue, branch, list, search, rename,
delete, rate and export conversations, each checked against its owner. Behind it: `urls.py` (the URL
users write, as the async driver's), `database.py` (the engine: pools, SQLite's settings, failures as
503s), `schema.py` (the tables), `migrations/` and `upgrade.py` (Alembic, run at start, one worker at a
time), `answers.py` (answers' checkpoints and ends, committed together), `owners.py` (what each owner
keeps, and the limits), `search.py` (full text), `export.py` (Markdown and JSON), `retention.py`
(deleting what has expired), `records.py` (what the store returns) and `errors.py` (what it refuses).
See `docs/conversations.md`.
"""
