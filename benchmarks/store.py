"""What the conversation store costs, on SQLite and on Postgres, for a user with a long history.

One user ("bench") has `--conversations` conversations in one Chat (two questions and two answers each,
a few hundred words of text), beside `--others` other users with as many again between them, so that
the search indexes hold other people's words too. Then, for each database, in `--rounds` rounds:

* list the newest 50 conversations, and the next 50 by cursor;
* search, with a rare word (in 20 conversations), a middling one (in about 2 %), a common one (in most),
  two words, and a prefix; 50 results at most, as a page;
* open a 500-message conversation (`get`: every message, the tree, the feedback), and read its selected
  path (`path`: what the model sees);
* 200 answers ending at once: 200 streaming answers of as many users, finished in one `gather`; each
  call's time from the call to its return (queueing behind the others included), and a check that all
  200 are saved.

Each operation runs `--repeat` times per round after a warm-up; a round reports its median and p99 (and
max), and the table gives the median over rounds of each with the min–max over rounds. Postgres is
Debian's, started from `initdb` in a temporary folder with its default (durable) settings, pinned to
core 0 when the machine has two, and vacuumed and analyzed after the bulk load (as autovacuum soon
would); pin this process to core 1:

    taskset -c 1 .venv/bin/python -m benchmarks.store [--rounds 5] [--json benchmarks/results/store.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from benchmarks.stats import percentile
from hybrid._conversations.database import writing
from hybrid._conversations.records import AnswerEnd
from hybrid._conversations.schema import conversations, messages, owners
from hybrid._conversations.store import ConversationStore
from hybrid.dev.postgres import start_postgres

USER, CHAT = "bench", "chat"
RARE, MIDDLING, COMMON = "zeppelin", "quarterly", "data"
LONG_MESSAGES = 500
ENDING_AT_ONCE = 200
END = AnswerEnd(
    "complete", "an answer of a few hundred characters " * 10, model="m", prompt_tokens=50,
    completion_tokens=400, ttft_ms=300, duration_ms=4000, parts=[{"type": "tool_call", "name": "plot"}],
)  # fmt: skip
TARGETS_MS = {"list": 20.0, "search": 20.0, "open": 50.0, "finish": 5.0}
"""The issue's targets, p99 in milliseconds: lists and searches, opening a long conversation, each save."""


def _words(rng: random.Random, count: int, vocabulary: list[str]) -> str:
    return " ".join(rng.choices(vocabulary, k=count))


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pre", "dor", "lin", "gam", "sel", "tur"]
    return ["".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(3_000)]


async def fill(store: ConversationStore, conversations_of_user: int, others: int) -> str:
    """Write the history in bulk (Core inserts, 1,000 conversations a transaction); the id of the
    500-message conversation."""
    rng = random.Random(23)
    vocabulary = _vocabulary(rng)
    now = datetime.now(UTC)
    key = 0
    owners_of = [USER] * conversations_of_user
    if others:
        owners_of += [f"other-{number % others}" for number in range(conversations_of_user)]
    rng.shuffle(owners_of)  # the user's conversations among the others', as they come in time
    rows_c: list[dict[str, Any]] = []
    rows_m: list[dict[str, Any]] = []
    for number, owner in enumerate(owners_of):
        key += 1
        at = now - timedelta(minutes=len(owners_of) - number)
        conversation = key
        extra = []
        if owner == USER and number % 500 == 7:
            extra.append(RARE)
        if number % 50 == 3:
            extra.append(MIDDLING)
        texts = [
            _words(rng, 15, vocabulary) + " " + " ".join(extra),
            _words(rng, 150, vocabulary) + f" {COMMON}",
            _words(rng, 12, vocabulary),
            _words(rng, 200, vocabulary),
        ]
        parent = None
        size = 0
        for index, text in enumerate(texts):
            key += 1
            size += len(text)
            role = "user" if index % 2 == 0 else "assistant"
            rows_m.append(
                {"id": key, "public_id": str(uuid.uuid4()), "conversation_id": conversation,
                 "parent_id": parent, "role": role, "content": text, "status": "complete", "bytes": len(text),
                 "created_at": at, "updated_at": at}
            )  # fmt: skip
            parent = key
        rows_c.append(
            {"id": conversation, "public_id": str(uuid.uuid4()), "owner": owner, "chat": CHAT,
             "title": texts[0][:60], "selected_id": parent, "bytes": size, "created_at": at, "updated_at": at}
        )  # fmt: skip
    engine = store._engine  # the benchmark writes below the store's API, in bulk
    for start in range(0, len(rows_c), 1_000):
        async with writing(engine) as connection:
            await connection.execute(insert(conversations), rows_c[start : start + 1_000])
            await connection.execute(insert(messages), rows_m[start * 4 : (start + 1_000) * 4])
    async with writing(engine) as connection:
        counts: dict[str, list[int]] = {}
        for row in rows_c:
            counts.setdefault(row["owner"], [0, 0])
            counts[row["owner"]][0] += 1
            counts[row["owner"]][1] += row["bytes"]
        await connection.execute(
            insert(owners), [{"owner": o, "conversations": c, "bytes": b} for o, (c, b) in counts.items()]
        )
        if connection.dialect.name == "postgresql":  # the keys were given: move the sequences past them
            for table in ("conversations", "messages"):
                await connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    if engine.dialect.name == "postgresql":
        # What autovacuum does soon after a bulk load: statistics for the planner, and the GIN indexes'
        # pending entries merged (a search reads those one by one).
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.exec_driver_sql("VACUUM ANALYZE")
    return await long_conversation(store, rng, vocabulary)


async def long_conversation(store: ConversationStore, rng: random.Random, vocabulary: list[str]) -> str:
    """A conversation of `LONG_MESSAGES` messages in one branch, written through the store's API."""
    conversation, question = await store.create(USER, CHAT, _words(rng, 20, vocabulary))
    for number in range(LONG_MESSAGES // 2):
        answer = await store.start_answer(USER, conversation.id, question.id)
        parts = [{"type": "tool_call", "name": "plot"}] if number % 10 == 0 else None
        text = _words(rng, 150, vocabulary)
        end = AnswerEnd("complete", text, model="m", prompt_tokens=100, completion_tokens=200, parts=parts)
        await store.finish_answer(USER, answer.id, end)
        if number < LONG_MESSAGES // 2 - 1:
            question = await store.add_question(
                USER, conversation.id, _words(rng, 20, vocabulary), parent_id=answer.id
            )
    return conversation.id


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    for _ in range(max(repeat // 10, 3)):
        await call()  # warm-up: caches, prepared statements, the pool
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def ending_alone(store: ConversationStore, repeat: int) -> list[float]:
    """Milliseconds of `finish_answer` for answers ending one at a time."""
    times = []
    for number in range(repeat):
        owner = f"alone-{number}"
        conversation, question = await store.create(owner, CHAT, "a question")
        answer = await store.start_answer(owner, conversation.id, question.id)
        started = time.perf_counter()
        await store.finish_answer(owner, answer.id, END)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def ending_at_once(store: ConversationStore, round_number: int) -> tuple[list[float], float, int]:
    """Finish `ENDING_AT_ONCE` streaming answers at once: each call's milliseconds, the whole burst's,
    and how many were saved."""
    answers = []
    for number in range(ENDING_AT_ONCE):
        owner = f"burst-{round_number}-{number}"
        conversation, question = await store.create(owner, CHAT, "a question")
        answers.append(
            (owner, conversation.id, (await store.start_answer(owner, conversation.id, question.id)).id)
        )

    async def finish(owner: str, answer: str) -> float:
        started = time.perf_counter()
        await store.finish_answer(owner, answer, END)
        return (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    each = await asyncio.gather(*(finish(owner, answer) for owner, _, answer in answers))
    burst = (time.perf_counter() - started) * 1000
    saved = 0
    for owner, conversation, _ in answers:
        saved += (await store.get(owner, conversation)).path()[-1].status == "complete"
    return list(each), burst, saved


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    store = ConversationStore(url, pool_size=5)
    await asyncio.to_thread(store.prepare)
    try:
        started = time.perf_counter()
        long_id = await fill(store, args.conversations, args.others)
        filled = time.perf_counter() - started
        first = await store.list_conversations(USER, CHAT, limit=50)
        operations: dict[str, Callable[[], Awaitable[object]]] = {
            "list newest 50": lambda: store.list_conversations(USER, CHAT, limit=50),
            "list next 50 (cursor)": lambda: store.list_conversations(
                USER, CHAT, limit=50, before=first.next
            ),
            f"search rare word ({RARE})": lambda: store.list_conversations(USER, CHAT, query=RARE),
            f"search middling word ({MIDDLING})": lambda: store.list_conversations(
                USER, CHAT, query=MIDDLING
            ),
            f"search common word ({COMMON})": lambda: store.list_conversations(USER, CHAT, query=COMMON),
            "search two words": lambda: store.list_conversations(USER, CHAT, query=f"{MIDDLING} {COMMON}"),
            "search a prefix (quart)": lambda: store.list_conversations(USER, CHAT, query="quart"),
            f"open a {LONG_MESSAGES}-message conversation": lambda: store.get(USER, long_id),
            f"path of a {LONG_MESSAGES}-message conversation": lambda: store.path(USER, long_id),
        }
        rounds: list[dict[str, dict[str, float]]] = []
        for round_number in range(args.rounds):
            results: dict[str, dict[str, float]] = {}
            for name, call in operations.items():
                results[name] = _summary(await timed(call, args.repeat))
            results["an answer ending alone: its save"] = _summary(await ending_alone(store, args.repeat))
            each, burst, saved = await ending_at_once(store, round_number)
            burst_name = f"{ENDING_AT_ONCE} answers ending at once: each save"
            results[burst_name] = {**_summary(each), "burst_ms": burst, "saved": saved}
            rounds.append(results)
        return {"fill_seconds": filled, "rounds": rounds}
    finally:
        await store.close()


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"p50": percentile(ordered, 50), "p99": percentile(ordered, 99), "max": ordered[-1]}


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown: per database and operation, the median over rounds of p50 and p99 (min–max over rounds)."""
    lines = ["| database | operation | p50 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    for database, measured in results.items():
        names = measured["rounds"][0].keys()
        for name in names:
            cells = []
            for stat in ("p50", "p99", "max"):
                values = [round_[name][stat] for round_ in measured["rounds"]]
                cells.append(f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})")
            lines.append(f"| {database} | {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def failures(results: dict[str, dict[str, Any]]) -> list[str]:
    """Each target a database missed (median over rounds of the p99), and any answer not saved."""
    missed = []
    for database, measured in results.items():
        for name in measured["rounds"][0]:
            target = next(ms for key, ms in TARGETS_MS.items() if _kind(name) == key)
            p99 = statistics.median(round_[name]["p99"] for round_ in measured["rounds"])
            if p99 > target:
                missed.append(f"{database}: {name}: p99 {p99:.1f} ms > {target:.0f} ms")
        for round_ in measured["rounds"]:
            for name, summary in round_.items():
                if "saved" in summary and summary["saved"] != ENDING_AT_ONCE:
                    missed.append(f"{database}: {name}: {summary['saved']} of {ENDING_AT_ONCE} saved")
    return missed


def _kind(name: str) -> str:
    if name.startswith("list"):
        return "list"
    if name.startswith("search"):
        return "search"
    if "ending" in name:
        return "finish"
    return "open"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=200, help="calls of each operation per round")
    parser.add_argument("--conversations", type=int, default=10_000, help="the user's conversations")
    parser.add_argument("--others", type=int, default=50, help="other users, sharing as many conversations")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="one database")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory(prefix="hybrid-bench-store-") as folder:
            results["SQLite"] = asyncio.run(measure(f"sqlite:///{folder}/conversations.db", args))
    if args.only in (None, "postgres"):
        server = start_postgres(durable=True)
        try:
            if (os.cpu_count() or 1) >= 2 and server.process is not None:
                os.sched_setaffinity(server.process.pid, {0})  # its backends, forked later, inherit it
            results["Postgres"] = asyncio.run(measure(server.create_database("bench"), args))
        finally:
            server.stop()
    print(table(results))
    for database, measured in results.items():
        print(f"{database}: filled in {measured['fill_seconds']:.1f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    missed = failures(results)
    for line in missed:
        print("MISSED", line)
    raise SystemExit(1 if missed else 0)


if __name__ == "__main__":
    main()
