"""The stream machinery in process, with a fake ASGI `send` and `receive` (no server, milliseconds each).

The real-server tests (`test_stream_endpoint.py`, `test_hardening.py`) prove the same paths over HTTP;
these pin the timing and bookkeeping that are hard to provoke through a socket.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request

import hybrid
from hybrid import ApiError, EventStreamResponse, StreamHooks, StreamOutcome, StreamSupervisor
from hybrid._settings import Settings
from tests.conftest import ROOT, run_async
from tests.support.sse_client import answer

SCOPE: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}


class FakeClient:
    """The ASGI side of one connection: records what is sent, and can stop reading or leave."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.reading = asyncio.Event()
        self.reading.set()
        self.stops_reading_at: Callable[[dict[str, Any]], bool] = lambda message: False
        self.left = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, message: dict[str, Any]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.stops_reading_at(message):
                self.reading.clear()
            await self.reading.wait()  # a client that stopped reading blocks every write
            self.messages.append(message)
        finally:
            self.in_flight -= 1

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    @property
    def body(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages).decode()


class Recorder(StreamHooks):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def opened(self) -> None:
        self.events.append(("opened", None))

    def refused(self, error: ApiError) -> None:
        self.events.append(("refused", error.status))

    def closed(self, outcome: StreamOutcome) -> None:
        self.events.append(("closed", outcome))


class Raising(StreamHooks):
    def opened(self) -> None:
        raise RuntimeError("a broken hook")

    def refused(self, error: ApiError) -> None:
        raise RuntimeError("a broken hook")

    def closed(self, outcome: StreamOutcome) -> None:
        raise RuntimeError("a broken hook")


async def deltas(*items: str, pause: float = 0.0) -> AsyncIterator[str]:
    for item in items:
        if pause:
            await asyncio.sleep(pause)
        yield item


def run(coroutine: Any, timeout: float = 5.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coroutine

    return run_async(bounded())


def response(source: AsyncIterator[str], **kwargs: Any) -> EventStreamResponse:
    return EventStreamResponse(source, **{"keepalive_seconds": 15.0, "send_timeout": 1.0, **kwargs})


def outcome_of(recorder: Recorder) -> StreamOutcome:
    closed = [data for name, data in recorder.events if name == "closed"]
    assert len(closed) == 1, recorder.events
    return closed[0]


def test_a_stream_delivers_its_deltas_then_done_and_reports_its_outcome() -> None:
    async def scenario() -> tuple[FakeClient, Recorder, list[str]]:
        client, recorder, released = FakeClient(), Recorder(), []
        supervisor = StreamSupervisor(hooks=[recorder])
        stream = response(
            deltas("Hello", " world"), supervisor=supervisor, on_close=lambda: released.append(1)
        )
        await stream(SCOPE, client.receive, client.send)
        return client, recorder, released

    client, recorder, released = run(scenario())
    assert answer(client.body) == ("Hello world", True)
    assert client.messages[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert [name for name, _ in recorder.events] == ["opened", "closed"]
    outcome = outcome_of(recorder)
    assert (outcome.status, outcome.error, outcome.deltas) == ("finished", None, 2)
    assert released == [1]


def test_a_client_that_stops_reading_at_the_final_write_is_dropped_and_its_slots_freed() -> None:
    async def scenario() -> tuple[FakeClient, Recorder, list[int], StreamSupervisor]:
        client, recorder, released = FakeClient(), Recorder(), []
        supervisor = StreamSupervisor(hooks=[recorder])
        # The socket buffer fills just as the answer ends: the closing empty body is the write that blocks.
        client.stops_reading_at = lambda message: message.get("more_body") is False
        stream = response(
            deltas("all of it"), supervisor=supervisor, send_timeout=0.2, on_close=lambda: released.append(1)
        )
        await stream(SCOPE, client.receive, client.send)
        return client, recorder, released, supervisor

    client, recorder, released, supervisor = run(scenario(), timeout=3.0)
    assert answer(client.body) == ("all of it", True)  # everything but the closing empty body went out
    assert outcome_of(recorder).status == "slow_consumer"
    assert released == [1]
    assert supervisor.active == 0


def test_a_shutdown_ends_a_stream_whose_keepalive_is_blocked_with_one_write_at_a_time() -> None:
    async def scenario() -> tuple[FakeClient, Recorder]:
        client, recorder = FakeClient(), Recorder()
        supervisor = StreamSupervisor(hooks=[recorder])
        loop = asyncio.get_running_loop()
        loop.call_later(0.12, client.reading.clear)  # the keep-alive at 0.15 s blocks ...
        loop.call_later(0.2, supervisor.drain)  # ... and the server shuts down while it is
        loop.call_later(0.25, client.reading.set)  # the client reads again: the notice can go out
        stream = response(
            deltas("never", pause=5), supervisor=supervisor, keepalive_seconds=0.05, send_timeout=1.0
        )
        await stream(SCOPE, client.receive, client.send)
        return client, recorder

    client, recorder = run(scenario())
    assert client.most_in_flight == 1, "the shutdown notice went out while a keep-alive was blocked"
    assert outcome_of(recorder).status == "shutdown"
    text, done = answer(client.body)
    assert done and "the server is restarting" in text


@pytest.mark.parametrize("then", ["yields", "ends", "raises"])
def test_no_write_overlaps_a_blocked_keepalive_and_the_drop_counts_from_its_start(then: str) -> None:
    async def scenario() -> tuple[FakeClient, Recorder, float]:
        client, recorder = FakeClient(), Recorder()
        loop = asyncio.get_running_loop()

        async def source() -> AsyncIterator[str]:
            await asyncio.sleep(0.12)  # silent: a keep-alive goes out at 0.05 s, and again at 0.10 s
            client.reading.clear()  # ... and the next one, at 0.15 s, blocks
            await asyncio.sleep(0.25)
            # At 0.37 s, while that keep-alive is still blocked: a delta, or the closing writes.
            if then == "yields":
                yield "late"
            elif then == "raises":
                raise RuntimeError("the source broke")

        stream = response(
            source(), supervisor=StreamSupervisor(hooks=[recorder]), keepalive_seconds=0.05, send_timeout=0.3
        )
        started = loop.time()
        await stream(SCOPE, client.receive, client.send)
        return client, recorder, loop.time() - started

    client, recorder, took = run(scenario())
    assert client.most_in_flight == 1, "a keep-alive and another write went out at once"
    assert outcome_of(recorder).status == "slow_consumer"
    # The blocked write began at 0.15 s: dropped 0.3 s later, not 0.3 s after the next write (0.67 s).
    assert took < 0.15 + 0.3 + 0.05, took
    assert ": keep-alive" in client.body


def test_an_oserror_the_source_raises_while_a_keepalive_is_written_is_a_failed_answer_not_a_client_gone() -> (
    None
):
    """Before: the pump took any `OSError` for its own write failing whenever a write was in flight, a
    keep-alive's included, so a source that raised one ended the answer with no error event and no log."""

    async def scenario() -> tuple[FakeClient, Recorder]:
        client, recorder = FakeClient(), Recorder()

        async def source() -> AsyncIterator[str]:
            yield "partial"
            await asyncio.sleep(0.07)  # a keep-alive goes out at 0.05 s ...
            client.reading.clear()  # ... and the next, at 0.1 s, blocks
            await asyncio.sleep(0.08)
            raise ConnectionResetError("the upstream model's connection broke")

        async def unblock() -> None:
            await asyncio.sleep(0.25)
            client.reading.set()

        unblocking = asyncio.ensure_future(unblock())
        stream = response(
            source(), supervisor=StreamSupervisor(hooks=[recorder]), keepalive_seconds=0.05, send_timeout=2
        )
        await stream(SCOPE, client.receive, client.send)
        await unblocking
        return client, recorder

    client, recorder = run(scenario())
    outcome = outcome_of(recorder)
    assert (outcome.status, outcome.error) == ("failed", "internal_error")
    assert "event: error" in client.body and "The answer stopped" in client.body


def test_a_keepalive_whose_write_fails_stops_the_slow_client_clock() -> None:
    """Before: a keep-alive write that raised left the clock running as if it were still blocked, and
    the timer later dropped the stream as a slow consumer."""

    async def scenario() -> Recorder:
        recorder, client = Recorder(), FakeClient()

        async def send(message: dict[str, Any]) -> None:
            if b"keep-alive" in message.get("body", b""):
                raise OSError("the socket broke under the keep-alive")
            await client.send(message)

        async def source() -> AsyncIterator[str]:
            await asyncio.sleep(0.4)  # a keep-alive fails at 0.05 s; a blocked clock would drop at 0.25 s
            yield "still here"

        stream = response(
            source(), supervisor=StreamSupervisor(hooks=[recorder]), keepalive_seconds=0.05, send_timeout=0.2
        )
        await stream(SCOPE, client.receive, send)
        return recorder

    assert outcome_of(run(scenario())).status != "slow_consumer"


def test_a_hook_that_raises_leaks_nothing_and_the_stream_still_completes() -> None:
    async def scenario() -> tuple[FakeClient, Recorder, list[int], set[asyncio.Task[Any]]]:
        client, recorder, released = FakeClient(), Recorder(), []
        supervisor = StreamSupervisor(hooks=[Raising(), recorder])
        stream = response(deltas("fine"), supervisor=supervisor, on_close=lambda: released.append(1))
        await stream(SCOPE, client.receive, client.send)
        await asyncio.sleep(0)
        return client, recorder, released, asyncio.all_tasks() - {asyncio.current_task()}

    client, recorder, released, tasks = run(scenario())
    assert answer(client.body) == ("fine", True)
    assert outcome_of(recorder).status == "finished"  # the hooks after the broken one still ran
    assert released == [1]
    assert not tasks, tasks  # no watcher task left behind


def test_a_failure_before_the_stream_started_releases_its_places() -> None:
    async def scenario() -> tuple[list[int], StreamSupervisor, set[asyncio.Task[Any]]]:
        released: list[int] = []
        supervisor = StreamSupervisor()

        async def broken_send(message: dict[str, Any]) -> None:
            raise RuntimeError("the server broke")

        stream = response(deltas("never"), supervisor=supervisor, on_close=lambda: released.append(1))
        with pytest.raises(RuntimeError):
            await stream(SCOPE, FakeClient().receive, broken_send)
        await asyncio.sleep(0)
        return released, supervisor, asyncio.all_tasks() - {asyncio.current_task()}

    released, supervisor, tasks = run(scenario())
    assert released == [1]
    assert supervisor.active == 0
    assert not tasks


def test_a_client_that_leaves_cancels_the_source_at_once() -> None:
    async def scenario() -> tuple[Recorder, list[str]]:
        client, recorder, closed = FakeClient(), Recorder(), []

        async def endless() -> AsyncIterator[str]:
            try:
                while True:
                    yield "tick "
                    await asyncio.sleep(0.01)
            finally:
                closed.append("closed")

        asyncio.get_running_loop().call_later(0.05, client.left.set)
        await response(endless(), supervisor=StreamSupervisor(hooks=[recorder]))(
            SCOPE, client.receive, client.send
        )
        return recorder, closed

    recorder, closed = run(scenario())
    assert outcome_of(recorder).status == "cancelled"
    assert closed == ["closed"]


def test_draining_ends_open_streams_with_a_notice_and_refuses_new_ones() -> None:
    async def scenario() -> tuple[FakeClient, Recorder, StreamSupervisor]:
        client, recorder = FakeClient(), Recorder()
        supervisor = StreamSupervisor(hooks=[recorder])
        stream = response(deltas("a", "b", "c", pause=0.05), supervisor=supervisor)
        asyncio.get_running_loop().call_later(0.07, supervisor.drain)
        await stream(SCOPE, client.receive, client.send)
        return client, recorder, supervisor

    client, recorder, supervisor = run(scenario())
    text, done = answer(client.body)
    assert done and text.startswith("a") and "the server is restarting" in text
    assert outcome_of(recorder).status == "shutdown"
    with pytest.raises(ApiError) as refused:
        supervisor.admit()
    assert (refused.value.status, refused.value.type) == (503, "shutting_down")


def test_the_supervisor_caps_admitted_streams_and_a_release_counts_once() -> None:
    supervisor = StreamSupervisor(max_streams=2)
    first, _second = supervisor.admit(), supervisor.admit()
    with pytest.raises(ApiError) as busy:
        supervisor.admit()
    assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "5"}
    first()
    first()  # a second call gives nothing back twice
    supervisor.admit()
    with pytest.raises(ApiError):
        supervisor.admit()


def many_direct_responses_then_sigterm() -> list[int]:
    """1,500 responses, each with a supervisor of its own, then SIGTERM as a server would get it."""
    received: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))

    async def scenario() -> None:
        for _ in range(1500):
            await EventStreamResponse(deltas("x"))(SCOPE, FakeClient().receive, FakeClient().send)
        signal.raise_signal(signal.SIGTERM)  # a handler chained per stream would recurse 1,500 deep

    asyncio.run(scenario())
    return received


@pytest.mark.server
def test_many_direct_responses_chain_one_signal_handler_for_the_whole_process() -> None:
    # In a fresh interpreter: signal handlers belong to the main thread, where Playwright may hold a loop.
    code = "from tests.streams.test_stream_core import many_direct_responses_then_sigterm as f; print(f())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == f"[{int(signal.SIGTERM)}]"


def test_refusals_from_the_hosts_authorize_hook_are_reported_as_4xx() -> None:
    def hook(request: Any) -> bool:
        if request.headers.get("x-user") == "banned":
            return False
        raise HTTPException(401, "sign in first")

    recorder = Recorder()
    app = hybrid.create_app(settings=Settings(secret_key="in-process"), authorize=hook, hooks=[recorder])

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [
                await client.post("/api/stream", json={}),
                await client.post("/api/stream", json={}, headers={"x-user": "banned"}),
            ]

    unauthorized, forbidden = run(scenario())
    assert (unauthorized.status_code, unauthorized.json()["error"]["message"]) == (401, "sign in first")
    assert forbidden.status_code == 403
    assert recorder.events == [("refused", 401), ("refused", 403)]


def test_the_response_encodes_events_and_text_exactly() -> None:
    async def scenario() -> FakeClient:
        client = FakeClient()

        async def source() -> AsyncIterator[Any]:
            yield hybrid.Event("meta", {"model": "m"})
            yield "[DONE]"
            yield "two\nlines"

        await response(source())(SCOPE, client.receive, client.send)
        return client

    client = run(scenario())
    assert answer(client.body) == ("[DONE]two\nlines", True)
    assert client.body.startswith('event: meta\ndata: {"model":"m"}\n\n')


def test_a_client_that_leaves_while_sending_its_body_is_refused_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = Recorder()
    endpoint = hybrid.stream_endpoint(
        lambda request: deltas("never"), supervisor=StreamSupervisor(hooks=[recorder])
    )
    scope = {**SCOPE, "method": "POST", "headers": [(b"content-length", b"10")]}

    async def left() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def scenario() -> Any:
        return await endpoint(Request(scope, left))

    with caplog.at_level("ERROR"):
        refused = run(scenario())
    assert refused.status_code == 400
    assert recorder.events == [("refused", 400)]
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


class Source:
    """A stream's source that records whether it was closed."""

    def __init__(self) -> None:
        self.closed = False

    def __aiter__(self) -> Source:
        return self

    async def __anext__(self) -> str:
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


class BrokenDelivery:
    """A delivery (resumable answers, say) whose start raises, or hangs until the request's task is
    cancelled."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.entered = asyncio.Event()

    def takes(self, request: Request) -> bool:
        return True

    async def deliver(self, source: Any, request: Request, **kwargs: Any) -> Any:
        self.entered.set()
        if self.how == "raises":
            raise RuntimeError("the answer store broke")
        await asyncio.Event().wait()


class Host:
    """What `stream_endpoint` takes from the app serving it (`ServingApp`)."""

    def __init__(self, delivery: BrokenDelivery) -> None:
        self.streams = StreamSupervisor()
        self.delivery = delivery
        self.authorize_hook = None
        self.body_timeout = 10.0


@pytest.mark.parametrize("how", ["raises", "is cancelled"])
def test_a_failure_while_the_answer_starts_gives_back_every_place_and_closes_the_source(how: str) -> None:
    supervisor = StreamSupervisor(max_streams=1)
    limiter = hybrid.ClientLimiter(per_minute=0, burst=1, concurrent=1)
    source = Source()
    endpoint = hybrid.stream_endpoint(lambda request: source, supervisor=supervisor, limiter=limiter)
    answers = BrokenDelivery(how)
    scope = {
        **SCOPE,
        "method": "POST",
        "headers": [(b"hybrid-resumable", b"1")],
        "client": ("10.0.0.1", 1234),
        "app": Host(answers),
    }

    async def body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def scenario() -> None:
        request = endpoint(Request(scope, body))
        if how == "raises":
            with pytest.raises(RuntimeError):
                await request
            return
        task = asyncio.ensure_future(request)
        await answers.entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert source.closed
    supervisor.admit()  # the server's place was given back (its cap is 1) ...
    limiter.admit("address:10.0.0.1")  # ... and the client's (at most 1 open)
