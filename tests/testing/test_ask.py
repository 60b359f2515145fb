"""`hybrid.testing.ask`: a Chat's answer run in process as the server runs it, for the answer functions
the docs' testing page does not show (sync ones, none at all, a provider of the test's own) and for what
it refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dash import State

import hybrid
from hybrid._chat.turn import current_turn
from hybrid.testing import Answer, ask, ask_async
from tests.conftest import run_async

DONE = "the answer ends here."


class Scripted:
    """A provider that answers each request with the same few deltas, and records the requests."""

    name = "scripted"
    models = ("scripted-1",)

    def __init__(self, *deltas: str) -> None:
        self.deltas = deltas
        self.requests: list[hybrid.ChatRequest] = []

    def reply(self, request: hybrid.ChatRequest) -> hybrid.Reply:
        self.requests.append(request)
        return hybrid.Reply(self._generate(request))

    async def _generate(self, request: hybrid.ChatRequest) -> AsyncIterator[Any]:
        for delta in self.deltas:
            yield delta
        yield hybrid.Completion(request.model, "stop", hybrid.Usage(3, len(self.deltas)))

    async def aclose(self) -> None:
        """Nothing to release."""


def test_a_chat_without_an_answer_function_answers_from_the_model() -> None:
    answer = ask(hybrid.Chat("plain"), "Hello")
    assert answer.text.endswith(DONE)
    assert (answer.model, answer.completion.finish_reason) == ("demo", "stop")  # type: ignore[union-attr]


def test_a_given_provider_answers_and_is_asked_what_the_answer_function_asked() -> None:
    chat = hybrid.Chat("scripted", context=[State("tone", "value")])

    @chat.answer
    async def answer(messages: list[hybrid.Message], tone: str) -> AsyncIterator[Any]:
        async for part in chat.model(messages, system=f"Answer in a {tone} tone."):
            yield part

    provider = Scripted("Hello", ", world")
    answer_ = ask(chat, "Hi", context=["dry"], provider=provider)
    assert answer_ == Answer(
        ("Hello", ", world"),
        "scripted-1",
        hybrid.Completion("scripted-1", "stop", hybrid.Usage(3, 2)),
    )
    (request,) = provider.requests
    assert [(m.role, m.content) for m in request.messages] == [
        ("system", "Answer in a dry tone."),
        ("user", "Hi"),
    ]


def test_synchronous_answer_functions_run_as_in_the_app() -> None:
    returning = hybrid.Chat("returning")
    returning.answer(lambda messages: f"You said {messages[-1].content}")
    assert ask(returning, "hi").parts == ("You said hi",)

    generating = hybrid.Chat("generating", context=[State("n", "value")])

    @generating.answer
    def count(messages: list[hybrid.Message], n: int) -> Iterator[Any]:
        yield hybrid.Reasoning("counting")
        yield from (f"{i} " for i in range(n))

    answer = ask(generating, "count", context=[3])
    assert (answer.reasoning, answer.text) == ("counting", "0 1 2 ")


def test_context_values_arrive_as_the_page_sends_them_json_data() -> None:
    chat = hybrid.Chat("echo", context=[State("pair", "value")])
    chat.answer(lambda messages, pair: repr(pair))
    assert ask(chat, "echo", context=[("a", 1)]).text == "['a', 1]"  # through JSON, as in the ticket
    with pytest.raises(ValueError, match="must be JSON data"):
        ask(chat, "echo", context=[object()])
    with pytest.raises(TypeError, match="one per State"):
        ask(chat, "echo", context="ab")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"'echo' has 1 context value\(s\) \(pair.value\); ask\(\) was given 2"
    ):
        ask(chat, "echo", context=[1, 2])


def test_the_question_is_checked_as_the_server_checks_the_pages() -> None:
    chat = hybrid.Chat("checked")
    with pytest.raises(ValueError, match="the last message must come from the user"):
        ask(chat, [hybrid.Message("user", "hi"), hybrid.Message("assistant", "hello")])
    with pytest.raises(ValueError, match="role must be one of user, assistant"):
        ask(chat, [{"role": "system", "content": "obey"}])
    with pytest.raises(TypeError, match=r"answers a hybrid\.Chat"):
        ask("checked", "hi")  # type: ignore[arg-type]


def test_a_part_the_stream_cannot_send_fails_the_test_and_the_answers_error_reaches_it() -> None:
    wrong = hybrid.Chat("wrong")
    wrong.answer(lambda messages: [42])
    with pytest.raises(TypeError, match="not int"):
        ask(wrong, "hi")

    failing = hybrid.Chat("failing")

    @failing.answer
    async def answer(messages: list[hybrid.Message]) -> AsyncIterator[str]:
        yield "Looking"
        raise hybrid.StreamError("the data warehouse is offline")

    with pytest.raises(hybrid.StreamError, match="the data warehouse is offline"):
        ask(failing, "hi")


def test_async_tests_await_ask_async_and_ask_works_where_a_loop_runs_already() -> None:
    chat = hybrid.Chat("async")

    async def test() -> tuple[Answer, Answer]:
        inside = ask(chat, "hi")  # this thread runs a loop (as Playwright's sync API keeps one): a thread
        return inside, await ask_async(chat, "hi")

    inside, awaited = run_async(
        test()
    )  # a thread of its own: after a browser test, Playwright's loop runs here
    assert inside.text == awaited.text and awaited.text.endswith(DONE)
    assert current_turn() is None  # the answer's turn stayed in its own task


def test_chat_model_outside_an_answer_points_to_hybrid_testing_which_has_ask() -> None:
    chat = hybrid.Chat("outside")
    with pytest.raises(RuntimeError, match=r"to test one, see hybrid\.testing"):
        chat.model([hybrid.Message("user", "hi")])
    assert "ask" in hybrid.testing.__all__
