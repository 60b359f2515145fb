"""The conversation store on SQLite and on a real Postgres: the tree and its branches, answers written as
they end, ownership, lists paged by key, search, delete, feedback, export, retention and limits."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hybrid._conversations.errors import LimitReached, NotFound
from hybrid._conversations.records import AnswerEnd
from hybrid._conversations.store import ConversationStore
from hybrid._errors import ApiError
from tests.conversations.conftest import assert_counted, in_store, query

ALICE, MALLORY, CHAT = "alice@example.com", "mallory@example.com", "chat"


async def ask(
    store: ConversationStore, owner: str, conversation: str, question: str, parent: str | None, answer: str
) -> tuple[str, str]:
    """A question under `parent` and its complete answer; their ids."""
    asked = await store.add_question(owner, conversation, question, parent_id=parent)
    answered = await store.start_answer(owner, conversation, asked.id)
    await store.finish_answer(owner, answered.id, AnswerEnd("complete", answer, model="m"))
    return asked.id, answered.id


async def started(
    store: ConversationStore,
    question: str = "What is a histogram?",
    *,
    owner: str = ALICE,
    chat: str = CHAT,
    answer: str = "A chart of counts.",
) -> tuple[str, str, str]:
    """A new conversation with one answered question: (conversation, question, answer) ids."""
    conversation, asked = await store.create(owner, chat, question, context=[{"figure": 1}])
    answered = await store.start_answer(owner, conversation.id, asked.id)
    await store.finish_answer(owner, answered.id, AnswerEnd("complete", answer, model="m"))
    return conversation.id, asked.id, answered.id


def test_an_answer_is_written_as_it_starts_checkpoints_and_ends(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, question = await store.create(
            ALICE, CHAT, "  Plot   the sales\nby month  ", context=[3]
        )
        assert conversation.title == "Plot the sales by month"
        assert question.context == [3]
        answer = await store.start_answer(ALICE, conversation.id, question.id)
        assert (await store.get(ALICE, conversation.id)).path()[-1].status == "streaming"

        await store.checkpoint_answer(ALICE, answer.id, "Here is", reasoning="Think", parts=[{"t": 1}])
        kept = (await store.get(ALICE, conversation.id)).path()[-1]
        assert (kept.content, kept.reasoning, kept.parts, kept.status) == (
            "Here is",
            "Think",
            [{"t": 1}],
            "streaming",
        )

        end = AnswerEnd(
            "stopped",
            "Here is the chart",
            reasoning="Think more",
            parts=[{"t": 2}],
            model="gpt",
            prompt_tokens=11,
            completion_tokens=7,
            ttft_ms=120,
            duration_ms=900,
        )
        await store.finish_answer(ALICE, answer.id, end)
        thread = await store.get(ALICE, conversation.id)
        done = thread.path()[-1]
        assert (done.status, done.content, done.reasoning, done.parts, done.model) == (
            "stopped",
            "Here is the chart",
            "Think more",
            [{"t": 2}],
            "gpt",
        )
        assert (done.prompt_tokens, done.completion_tokens, done.ttft_ms, done.duration_ms) == (
            11,
            7,
            120,
            900,
        )
        assert thread.conversation.updated_at >= done.updated_at > done.created_at

        with pytest.raises(ApiError) as ended:
            await store.finish_answer(ALICE, answer.id, AnswerEnd("complete", "again"))
        assert (ended.value.status, ended.value.type) == (409, "answer_ended")
        with pytest.raises(ApiError, match="ended"):
            await store.checkpoint_answer(ALICE, answer.id, "late")

        failed = await store.start_answer(ALICE, conversation.id, question.id)
        await store.finish_answer(ALICE, failed.id, AnswerEnd("failed", "Par", error="the model timed out"))
        assert (await store.get(ALICE, conversation.id)).path()[-1].error == "the model timed out"
        await assert_counted(database)

    in_store(database, scenario)


def test_the_tree_keeps_every_branch_and_the_model_sees_the_selected_path(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, q1, a1 = await started(store, "first question")
        q2, a2 = await ask(store, ALICE, conversation, "second question", a1, "second answer")
        regenerated = await store.start_answer(ALICE, conversation, q2)  # regenerate: a sibling of a2
        await store.finish_answer(ALICE, regenerated.id, AnswerEnd("complete", "better answer"))
        thread = await store.get(ALICE, conversation)
        shown = ["first question", "A chart of counts.", "second question", "better answer"]
        assert [m.content for m in thread.path()] == shown
        assert [m.id for m in thread.siblings(a2)] == [a2, regenerated.id]
        assert [m.content for m in await store.path(ALICE, conversation)] == [
            m.content for m in thread.path()
        ]

        edited, edited_answer = await ask(store, ALICE, conversation, "second, edited", a1, "edited answer")
        assert [m.id for m in (await store.get(ALICE, conversation)).siblings(q2)] == [q2, edited]
        assert [m.id for m in await store.path(ALICE, conversation)] == [q1, a1, edited, edited_answer]

        # Switching to a sibling shows the newest branch below it.
        assert await store.select(ALICE, conversation, q2) == regenerated.id
        assert [m.id for m in await store.path(ALICE, conversation)] == [q1, a1, q2, regenerated.id]
        assert await store.select(ALICE, conversation, a2) == a2
        assert (await store.get(ALICE, conversation)).selected == a2
        assert [m.id for m in await store.path(ALICE, conversation, edited)] == [q1, a1, edited]

        new_root = await store.add_question(ALICE, conversation, "first, edited", parent_id=None)
        assert [m.id for m in await store.path(ALICE, conversation)] == [new_root.id]
        assert [m.id for m in (await store.get(ALICE, conversation)).siblings(q1)] == [q1, new_root.id]
        assert len((await store.get(ALICE, conversation)).messages) == 8

        with pytest.raises(ApiError, match="a question follows an answer"):
            await store.add_question(ALICE, conversation, "under a question", parent_id=q1)
        with pytest.raises(ApiError, match="an answer follows a question"):
            await store.start_answer(ALICE, conversation, a1)
        _, other_question, _ = await started(store, "another conversation")
        with pytest.raises(NotFound):
            await store.start_answer(ALICE, conversation, other_question)  # a message of another conversation
        await assert_counted(database)

    in_store(database, scenario)


def test_answers_ending_at_once_are_all_saved(database: str) -> None:
    def ended(answer: str) -> AnswerEnd:
        return AnswerEnd("complete", f"end {answer}")

    async def scenario(store: ConversationStore) -> None:
        answers: list[tuple[str, str]] = []
        for number in range(60):
            owner = f"user-{number % 7}"
            conversation, question = await store.create(owner, CHAT, f"question {number}")
            answers.append((owner, (await store.start_answer(owner, conversation.id, question.id)).id))
        await asyncio.gather(
            *(store.checkpoint_answer(owner, answer, "so far") for owner, answer in answers[::2]),
            *(store.finish_answer(owner, answer, ended(answer)) for owner, answer in answers),
        )
        saved = await query(
            database, "SELECT public_id, content, status FROM messages WHERE role = 'assistant'"
        )
        assert sorted((str(uuid.UUID(str(row[0]))), row[1], row[2]) for row in saved) == sorted(
            (answer, f"end {answer}", "complete") for _, answer in answers
        )
        await assert_counted(database)

    in_store(database, scenario)


def test_another_owners_ids_are_not_found_by_any_method(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, question, answer = await started(store)
        streaming = await store.start_answer(ALICE, conversation, question)
        before = await store.get(ALICE, conversation)
        attempts = {
            "get": store.get(MALLORY, conversation),
            "path": store.path(MALLORY, conversation),
            "add_question": store.add_question(MALLORY, conversation, "mine now?", parent_id=answer),
            "start_answer": store.start_answer(MALLORY, conversation, question),
            "checkpoint_answer": store.checkpoint_answer(MALLORY, streaming.id, "forged"),
            "finish_answer": store.finish_answer(MALLORY, streaming.id, AnswerEnd("complete", "forged")),
            "select": store.select(MALLORY, conversation, answer),
            "rename": store.rename(MALLORY, conversation, "stolen"),
            "delete": store.delete(MALLORY, conversation),
            "set_feedback": store.set_feedback(MALLORY, conversation, answer, -1),
            "export_markdown": store.export_markdown(MALLORY, conversation),
            "export_json": store.export_json(MALLORY, conversation),
        }
        for name, attempt in attempts.items():
            with pytest.raises(NotFound) as refused:
                await attempt
            assert refused.value.status == 404, name
            assert "forged" not in refused.value.message and "histogram" not in refused.value.message
        for malformed in ("not-an-id", ""):  # refused alone: the answers written with it are not harmed
            with pytest.raises(NotFound):
                await store.finish_answer(ALICE, malformed, AnswerEnd("complete", "x"))
        # The same answer for an id that does not exist, or is no id at all: nothing tells them apart.
        for missing in ("00000000-0000-0000-0000-000000000000", "not-an-id", ""):
            with pytest.raises(NotFound) as unknown:
                await store.get(ALICE, missing)
            assert unknown.value.message == "no such conversation"
        assert (await store.list_conversations(MALLORY, CHAT)).conversations == ()
        assert (await store.list_conversations(MALLORY, CHAT, query="histogram")).conversations == ()
        assert await store.get(ALICE, conversation) == before

    in_store(database, scenario)


def test_lists_page_by_key_newest_first_without_repeats_or_gaps_while_rows_are_added(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        existing = [(await store.create(ALICE, CHAT, f"question {number}"))[0].id for number in range(23)]
        await store.create(ALICE, "another chat", "elsewhere")
        await store.create(MALLORY, CHAT, "someone else's")
        seen: list[str] = []
        page = await store.list_conversations(ALICE, CHAT, limit=5)
        while True:
            seen.extend(conversation.id for conversation in page.conversations)
            await store.create(ALICE, CHAT, "added while paging")  # newer: on no later page
            # One seen already is continued: it moves to the top, before the cursor, and is not seen again.
            await store.add_question(ALICE, seen[1], "more", parent_id=None)
            if page.next is None:
                break
            page = await store.list_conversations(ALICE, CHAT, limit=5, before=page.next)
        assert seen == existing[::-1]
        assert (await store.list_conversations(ALICE, CHAT, limit=1)).conversations[0].id == seen[1]

        for bad in ("nonsense", "e30", "WyJ4IiwgMV0"):
            with pytest.raises(ApiError) as refused:
                await store.list_conversations(ALICE, CHAT, before=bad)
            assert (refused.value.status, refused.value.type) == (400, "bad_cursor")
        for limit in (0, 101):
            with pytest.raises(ApiError, match="1 to 100"):
                await store.list_conversations(ALICE, CHAT, limit=limit)

    in_store(database, scenario)


def test_search_finds_a_conversation_by_a_word_of_an_answer_or_its_title(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        sales, _, _ = await started(store, "Monthly sales", answer="Revenue peaked in Décembre, then fell.")
        weather, _, _ = await started(store, "Rain in Lisbon?", answer="Bring an umbrella_stand.")
        await started(store, "Secret revenue", owner=MALLORY)
        await started(store, "Revenue elsewhere", chat="other")
        streaming_conversation, question = await store.create(ALICE, CHAT, "Plot it")
        answer = await store.start_answer(ALICE, streaming_conversation.id, question.id)
        await store.checkpoint_answer(ALICE, answer.id, "A violin plot of the zeppelin data")

        async def found(text: str) -> list[str]:
            return [c.id for c in (await store.list_conversations(ALICE, CHAT, query=text)).conversations]

        assert await found("revenue") == [sales]  # a word of the answer; another owner's and chat's: not
        assert await found("REVEN") == [sales]  # a prefix, any case
        assert await found("décembre") == [sales]
        assert await found("lisbon rain") == [weather]  # every word, in any order, title or text
        assert await found("lisbon revenue") == []
        assert await found("umbrella") == [weather]
        assert await found("zeppelin") == [streaming_conversation.id]  # a checkpoint is searchable
        for syntax in ('"', "*", "AND", "revenue OR", "NEAR(x y)", "a:b", "!(&|", "title:x"):
            await found(syntax)  # what users type is never query syntax
        assert len(await found("?!")) == 3  # no words: every conversation of the owner's chat

        await store.rename(ALICE, weather, "Portugal trip")
        assert await found("portugal") == [weather]
        titled, _ = await store.create(ALICE, CHAT, "what next?", title="Zanzibar notes")
        assert await found("zanzibar") == [titled.id]
        await store.rename(ALICE, titled.id, "Notes")
        assert await found("zanzibar") == []
        await store.delete(ALICE, sales)
        assert await found("revenue") == []

    in_store(database, scenario)


def test_delete_is_for_good_and_takes_messages_and_feedback(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, _, answer = await started(store)
        kept, _, kept_answer = await started(store, "keep me")
        await store.set_feedback(ALICE, conversation, answer, 1, "good")
        await store.set_feedback(ALICE, kept, kept_answer, -1)
        await store.delete(ALICE, conversation)
        with pytest.raises(NotFound):
            await store.get(ALICE, conversation)
        with pytest.raises(NotFound):
            await store.delete(ALICE, conversation)
        assert await query(database, "SELECT COUNT(*) FROM messages") == [(2,)]
        assert await query(database, "SELECT COUNT(*) FROM feedback") == [(1,)]
        assert await query(database, "SELECT conversations FROM owners") == [(1,)]
        await assert_counted(database)

    in_store(database, scenario)


def test_feedback_is_set_replaced_and_cleared_on_answers_only(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, question, answer = await started(store)
        given = await store.set_feedback(ALICE, conversation, answer, 1, "  spot on  ")
        assert given is not None and (given.rating, given.comment) == (1, "spot on")
        await store.set_feedback(ALICE, conversation, answer, -1)
        thread = await store.get(ALICE, conversation)
        assert (thread.feedback[answer].rating, thread.feedback[answer].comment) == (-1, None)
        assert thread.feedback[answer].created_at == given.created_at
        assert await store.set_feedback(ALICE, conversation, answer, None) is None
        assert (await store.get(ALICE, conversation)).feedback == {}
        for rating, comment, problem in ((2, None, "bad_rating"), (1, "x" * 2001, "bad_comment")):
            with pytest.raises(ApiError) as refused:
                await store.set_feedback(ALICE, conversation, answer, rating, comment)
            assert (refused.value.status, refused.value.type) == (400, problem)
        with pytest.raises(ApiError, match="only answers"):
            await store.set_feedback(ALICE, conversation, question, 1)

    in_store(database, scenario)


def test_export_gives_markdown_of_the_branch_shown_and_json_of_the_whole_tree(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        conversation, question, answer = await started(store, "Why *so* slow?", answer="Because **N+1**.")
        await store.set_feedback(ALICE, conversation, answer, 1, "clear")
        other = await store.start_answer(ALICE, conversation, question)
        await store.finish_answer(ALICE, other.id, AnswerEnd("failed", "", error="the model is down"))
        await store.select(ALICE, conversation, answer)

        markdown = await store.export_markdown(ALICE, conversation)
        assert markdown.startswith("# Why *so* slow?\n")
        assert "## You\n\nWhy *so* slow?\n" in markdown
        assert "## Assistant (m, 👍)\n\nBecause **N+1**.\n\n> Feedback: clear" in markdown
        assert "model is down" not in markdown  # another branch

        exported = await store.export_json(ALICE, conversation)
        assert exported["format"] == "hybrid.conversation/1"
        assert exported["path"] == [question, answer] and exported["selected"] == answer
        by_id = {message["id"]: message for message in exported["messages"]}
        assert set(by_id) == {question, answer, other.id}
        assert by_id[other.id]["parent_id"] == question and by_id[other.id]["error"] == "the model is down"
        assert by_id[answer]["feedback"] == {"rating": 1, "comment": "clear"}
        assert by_id[question]["context"] == [{"figure": 1}]

    in_store(database, scenario)


def test_retention_deletes_conversations_not_updated_for_that_long(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        old, _, answer = await started(store, "old")
        await store.set_feedback(ALICE, old, answer, 1)
        recent, _, _ = await started(store, "recent", owner=MALLORY)
        await query(
            database, "UPDATE conversations SET updated_at = '2020-01-01 00:00:00+00:00' WHERE title = 'old'"
        )
        assert await store.delete_expired() == 1
        assert await store.delete_expired() == 0
        with pytest.raises(NotFound):
            await store.get(ALICE, old)
        assert (await store.get(MALLORY, recent)).conversation.title == "recent"
        # Everything is older than a year from now: kept until then, gone after.
        assert await store.delete_expired(datetime.now(UTC) + timedelta(days=29)) == 0
        assert await store.delete_expired(datetime.now(UTC) + timedelta(days=31)) == 1
        await assert_counted(database)

    in_store(database, scenario, retention_days=30)


def test_retention_off_keeps_everything(sqlite_database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        await started(store)
        assert await store.delete_expired(datetime.now(UTC) + timedelta(days=10_000)) == 0

    in_store(sqlite_database, scenario)


def test_limits_refuse_new_conversations_and_questions_but_save_answers(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        first, _, answer = await started(store, "q" * 10, answer="a" * 10)
        await store.create(ALICE, CHAT, "second")
        with pytest.raises(LimitReached) as full:
            await store.create(ALICE, CHAT, "third")
        assert (full.value.status, full.value.type) == (409, "too_many_conversations")
        assert "2 conversations" in full.value.message
        await store.create(MALLORY, CHAT, "someone else is not limited by alice")

        # Held: 10 + 15 (the context, as JSON) + 10 + 6 = 41 bytes; 40 more fit, 80 more do not.
        asked = await store.add_question(ALICE, first, "x" * 40, parent_id=answer)
        with pytest.raises(LimitReached) as too_big:
            await store.add_question(ALICE, first, "y" * 40, parent_id=answer)
        assert (too_big.value.status, too_big.value.type) == (409, "history_full")
        long_answer = await store.start_answer(ALICE, first, asked.id)
        await store.finish_answer(
            ALICE, long_answer.id, AnswerEnd("complete", "z" * 500)
        )  # kept past the limit
        assert (await store.get(ALICE, first)).path()[-1].content == "z" * 500

        await store.delete(ALICE, first)
        await store.create(ALICE, CHAT, "room again")
        await assert_counted(database)

    in_store(database, scenario, max_conversations=2, max_bytes=100)


def test_titles_are_made_from_the_first_question_and_renames_are_checked(database: str) -> None:
    async def scenario(store: ConversationStore) -> None:
        long, _ = await store.create(ALICE, CHAT, "word " * 40)
        assert long.title.endswith("…") and len(long.title) <= 80 and " " not in long.title[-2:]
        blank, _ = await store.create(ALICE, CHAT, "   ")
        assert blank.title == "New conversation"
        named, _ = await store.create(ALICE, CHAT, "q", title=" Budget 2027 ")
        assert named.title == "Budget 2027"
        renamed = await store.rename(ALICE, named.id, "  Budget\n2028 ")
        assert (renamed.title, renamed.updated_at) == ("Budget 2028", named.updated_at)
        for bad in ("", "   ", "x" * 201):
            with pytest.raises(ApiError) as refused:
                await store.rename(ALICE, named.id, bad)
            assert (refused.value.status, refused.value.type) == (400, "bad_title")

    in_store(database, scenario)


def test_several_workers_share_one_database(database: str) -> None:
    """Two stores on one database, as two worker processes hold them, writing at once: nothing is lost,
    nothing is counted twice (SQLite: one writer at a time, the other waits; Postgres: row locks)."""

    async def worker(store: ConversationStore, name: str) -> list[str]:
        made = []
        for number in range(15):
            conversation, question = await store.create(ALICE, CHAT, f"{name} {number}")
            answer = await store.start_answer(ALICE, conversation.id, question.id)
            await store.finish_answer(ALICE, answer.id, AnswerEnd("complete", f"answer of {name} {number}"))
            made.append(conversation.id)
        return made

    async def scenario(first: ConversationStore) -> None:
        second = ConversationStore(database)
        try:
            made = await asyncio.gather(worker(first, "first"), worker(second, "second"))
        finally:
            await second.close()
        listed = (await first.list_conversations(ALICE, CHAT, limit=100)).conversations
        assert sorted(c.id for c in listed) == sorted(made[0] + made[1])
        await assert_counted(database)

    in_store(database, scenario)
