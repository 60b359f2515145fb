"""Resumable answers in process: the hub, its frames and the Redis log, with a fake ASGI client.

The real-server tests (`test_resume_server.py`) prove the same over HTTP, across workers and restarts;
these pin exactness (a property over every cut point) and the timing of stop and grace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid import ApiError, Event, StreamSupervisor
from hybrid._answers.resumable import Answers
from hybrid._stores.redis.answer_log import RedisAnswerLog
from hybrid._stores.redis.connection import connect
from hybrid._wire import sse
from tests.conftest import run_async
from tests.support.resume_client import text_of
from tests.support.sse_client import Message, answer, parse

SCOPE: dict[str, Any] = {"type": "http", "method": "POST", "path": "/api/stream", "headers": []}


class Request:
    """What `Answers.start` reads of a request: its scope."""

    scope = SCOPE


class CutClient:
    """An ASGI client whose connection is cut after `cut` bytes of the body (the rest never arrives)."""

    def __init__(self, cut: int | None = None) -> None:
        self.cut = cut
        self.body = b""
        self.left = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if self.left.is_set():
            raise OSError("the connection is closed")
        self.body += message.get("body", b"")
        if self.cut is not None and len(self.body) >= self.cut:
            self.body = self.body[: self.cut]
            self.left.set()

    async def receive(self) -> dict[str, Any]:
        await self.left.wait()
        return {"type": "http.disconnect"}

    @property
    def messages(self) -> list[Message]:
        return parse(self.body.decode(errors="ignore"))


async def items_of(items: list[str | Event], pause: float) -> AsyncIterator[str | Event]:
    for item in items:
        await asyncio.sleep(pause)
        yield item


def hub(log: RedisAnswerLog | None = None, *, grace: float = 5.0, max_frames: int = 1000) -> Answers:
    return Answers(StreamSupervisor(), grace=grace, max_frames=max_frames, log=log)


async def start(answers: Answers, source: AsyncIterator[Any]) -> Any:
    return await answers.deliver(
        source, Request(), release=lambda: None, keepalive_seconds=15, send_timeout=5
    )


async def read(response: Any, client: CutClient | None = None) -> CutClient:
    client = client or CutClient()
    await response(SCOPE, client.receive, client.send)
    return client


def head_of(client: CutClient) -> dict[str, str]:
    first = client.messages[0]
    assert first.event == "answer"
    return json.loads(first.data)


async def resume(answers: Answers, head: dict[str, str], after: int) -> CutClient | None:
    response = await answers.resume(
        head["id"],
        head["token"],
        after,
        user=None,
        release=lambda: None,
        keepalive_seconds=15,
        send_timeout=5,
    )
    return None if response is None else await read(response)


def run(coroutine: Any, timeout: float = 10.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coroutine

    return run_async(bounded())


texts = st.lists(
    st.sampled_from(["a", " b", "\n", "\r", "\r\n", "[DONE]", "é", "x\n\ny", "", "  "]), max_size=12
)
answers_items = st.lists(
    st.one_of(texts.map("".join), st.just(Event("meta", {"n": 1}))), min_size=0, max_size=15
)


async def cut_and_resume(
    items: list[Any], fraction: float, redis_url: str | None
) -> tuple[list, list | None]:
    """The events of the whole answer, and those a client gets when cut at `fraction` of it, then resumed
    from the last id it saw: through this worker's memory, or through Redis from another worker."""
    whole = await read(await start(hub(), items_of(items, 0)))
    clients = [connect(redis_url) for _ in range(2)] if redis_url else []
    logs = [RedisAnswerLog(client, redis_url, max_frames=1000, reader_lease=5) for client in clients]
    generating = hub(logs[0] if logs else None)
    resuming = hub(logs[1]) if logs else generating
    try:
        response = await start(generating, items_of(items, 0.002 if redis_url else 0))
        cut = CutClient(cut=int(fraction * len(whole.body)))
        await read(response, cut)
        if not cut.messages:  # cut before the answer's id arrived: nothing to resume
            assert len(cut.body) < len(whole.body.split(b"\n\n")[0]) + 2
            return _events(whole.messages), None
        head = head_of(cut)
        seen = cut.messages[1:]
        rest = await resume(resuming, head, int(seen[-1].id) if seen else 0)
        return _events(whole.messages), _events(seen + (rest.messages if rest else []))
    finally:
        for log in logs:
            await log.close()
        for client in clients:
            await client.aclose()


def _events(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.event, m.data) for m in messages if m.event != "answer"]


@settings(max_examples=150, deadline=None)
@given(items=answers_items, fraction=st.floats(0, 1))
def test_resuming_from_any_cut_point_gives_exactly_the_rest_in_memory(
    items: list[Any], fraction: float
) -> None:
    whole, received = run(cut_and_resume(items, fraction, None))
    assert received is None or received == whole


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=answers_items, fraction=st.floats(0, 1))
def test_resuming_from_any_cut_point_gives_exactly_the_rest_through_redis_from_another_worker(
    redis_server: Any, items: list[Any], fraction: float
) -> None:
    whole, received = run(cut_and_resume(items, fraction, redis_server.url))
    assert received is None or received == whole


class Upstream:
    """A source that streams until closed, and records when it was closed (as an upstream request)."""

    def __init__(self, pause: float = 0.005) -> None:
        self.pause = pause
        self.closed_at: float | None = None

    async def __call__(self) -> AsyncIterator[str]:
        try:
            while True:
                yield "tick "
                await asyncio.sleep(self.pause)
        finally:
            self.closed_at = asyncio.get_running_loop().time()


def test_stop_closes_the_source_at_once_and_readers_end_with_stopped_and_done() -> None:
    async def scenario() -> tuple[float, CutClient, int]:
        answers, upstream = hub(), Upstream()
        client = CutClient()
        reading = asyncio.create_task(read(await start(answers, upstream()), client))
        await asyncio.sleep(0.05)
        stopped_at = asyncio.get_running_loop().time()
        await answers.stop(head_of(client)["id"], head_of(client)["token"], user=None)
        await reading
        assert upstream.closed_at is not None
        return upstream.closed_at - stopped_at, client, answers.supervisor.active

    took, client, active = run(scenario())
    assert took < 0.01
    assert [m.event for m in client.messages[-2:]] == ["stopped", "message"]
    assert answer(client.body.decode())[1]  # ends with [DONE]
    assert active == 0


def test_a_dropped_answer_generates_on_for_the_grace_then_is_abandoned_and_forgotten() -> None:
    async def scenario() -> tuple[float, int, int, list[int]]:
        released: list[int] = []
        answers, upstream = hub(grace=0.2), Upstream()
        response = await answers.deliver(
            upstream(), Request(), release=lambda: released.append(1), keepalive_seconds=15, send_timeout=5
        )
        client = CutClient(cut=300)
        await read(response, client)
        dropped_at = asyncio.get_running_loop().time()
        await asyncio.sleep(0.1)
        assert upstream.closed_at is None  # still generating, waiting to be resumed
        await asyncio.sleep(0.2)
        assert upstream.closed_at is not None
        return upstream.closed_at - dropped_at, len(answers), answers.supervisor.active, released

    took, held, active, released = run(scenario())
    assert 0.2 <= took < 0.25
    assert (held, active, released) == (0, 0, [1])


def test_a_resume_attaches_within_the_grace_and_the_answer_is_not_abandoned() -> None:
    async def scenario() -> tuple[str, bool]:
        answers = hub(grace=0.1)
        items = [f"{n} " for n in range(40)]
        client = CutClient(cut=250)
        await read(await start(answers, items_of(items, 0.01)), client)
        seen = client.messages[1:]
        rest = await resume(answers, head_of(client), int(seen[-1].id))
        assert rest is not None
        return "".join(m.data for m in seen + rest.messages if m.event == "message"), True

    text, _ = run(scenario())
    assert text == "".join(f"{n} " for n in range(40)) + "[DONE]"


def test_resume_refusals_are_4xx_and_an_ended_answer_is_forgotten_after_the_grace() -> None:
    async def scenario() -> list[Any]:
        answers = hub(grace=0.2, max_frames=4)
        client = await read(await start(answers, items_of([f"{n} " for n in range(20)], 0)))
        head = head_of(client)
        outcomes: list[Any] = []
        for token, after in ((None, 0), ("wrong", 0), (head["token"], 0)):
            with pytest.raises(ApiError) as refused:
                await answers.resume(
                    head["id"],
                    token,
                    after,
                    user=None,
                    release=lambda: None,
                    keepalive_seconds=1,
                    send_timeout=1,
                )
            outcomes.append((refused.value.status, refused.value.type))
        outcomes.append(await resume(answers, head, 21))  # the client has it all
        await asyncio.sleep(0.25)
        outcomes.append(await resume(answers, head, 5))  # gone
        return outcomes

    assert run(scenario()) == [
        (401, "missing_resume_token"),
        (403, "invalid_resume_token"),
        (410, "resume_too_late"),  # only the last frames are kept
        None,
        None,
    ]


def test_frames_number_every_event_of_a_chunk_and_only_the_final_done_ends_an_answer() -> None:
    chunk = (
        sse.MessageEncoder().message("[DONE]")
        + sse.event("meta", {})
        + sse.MessageEncoder().message("a\n[DONE]")
    )
    frames = sse.numbered(chunk, 7)
    assert [frame.split(b"\n")[0] for frame in frames] == [b"id: 7", b"id: 8", b"id: 9", b"id: 10"]
    assert b"".join(frame.split(b"\n", 1)[1] for frame in frames) == chunk
    assert not any(sse.ends_answer(frame) for frame in frames)
    assert sse.ends_answer(sse.numbered(sse.DONE, 11)[0])


def test_shutdown_without_redis_ends_readers_with_the_notice_as_today() -> None:
    async def scenario() -> CutClient:
        answers, upstream = hub(), Upstream()
        client = CutClient()
        reading = asyncio.create_task(read(await start(answers, upstream()), client))
        await asyncio.sleep(0.03)
        answers.supervisor.drain()
        await reading
        await answers.close()
        assert upstream.closed_at is not None
        return client

    text, done = answer(run(scenario()).body.decode())
    assert done and text.endswith("The answer stopped: the server is restarting.**")


def test_shutdown_with_redis_tells_readers_to_reconnect_and_the_answer_completes_into_redis(
    redis_server: Any,
) -> None:
    async def scenario() -> tuple[CutClient, list[Message]]:
        clients = [connect(redis_server.url) for _ in range(2)]
        logs = [
            RedisAnswerLog(client, redis_server.url, max_frames=1000, reader_lease=2) for client in clients
        ]
        stopping, other = hub(logs[0], grace=2), hub(logs[1], grace=2)
        items = [f"{n} " for n in range(30)]
        client = CutClient()
        reading = asyncio.create_task(read(await start(stopping, items_of(items, 0.01)), client))
        await asyncio.sleep(0.08)
        stopping.supervisor.drain()
        await reading
        seen = client.messages[1:]
        rest = await resume(other, head_of(client), int(seen[-2].id))  # the last is `reconnect`
        await stopping.close()
        for log in logs:
            await log.close()
        for redis_client in clients:
            await redis_client.aclose()
        assert rest is not None
        return client, seen[:-1] + rest.messages

    client, events = run(scenario())
    assert client.messages[-1].event == "reconnect"
    assert answer("".join(f"data: {m.data}\n\n" for m in events if m.event == "message")) == (
        "".join(f"{n} " for n in range(30)),
        True,
    )


def test_an_ended_answer_is_kept_for_the_grace_from_its_end_however_often_it_is_read() -> None:
    async def scenario() -> tuple[list[Message], CutClient, Any]:
        answers = hub(grace=0.3)
        items = [f"{n} " for n in range(30)]
        live = CutClient(cut=200)
        await read(await start(answers, items_of(items, 0)), live)
        await asyncio.sleep(0.2)  # the answer ended meanwhile
        head, seen = head_of(live), live.messages[1:]
        lagging = await answers.resume(
            head["id"],
            head["token"],
            int(seen[-1].id),
            user=None,
            release=lambda: None,
            keepalive_seconds=15,
            send_timeout=5,
        )
        assert lagging is not None
        read_on = await read(lagging, CutClient())  # a reader already reading reads on to the end
        await asyncio.sleep(0.2)  # 0.4 s after the end: past the grace, whoever read it since
        return seen, read_on, await resume(answers, head, int(seen[-1].id))

    seen, read_on, again = run(scenario())
    assert text_of(seen + read_on.messages) == ("".join(f"{n} " for n in range(30)), True)
    assert again is None, "a resume kept an ended answer past the grace from its end"


def resume_outcomes(metrics: str) -> dict[str, float]:
    prefix = 'hybrid_resumes_total{outcome="'
    return {
        line[len(prefix) :].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(prefix)
    }


def test_a_resume_refused_by_a_stopping_worker_is_counted_as_shutting_down_not_unavailable() -> None:
    import httpx

    import hybrid
    from hybrid._settings import Settings

    app = hybrid.create_app(settings=Settings(secret_key="in-process"))

    async def scenario() -> tuple[httpx.Response, str]:
        app.streams.drain()  # SIGTERM
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            refused = await client.get("/api/stream/" + "A" * 22, headers={"Hybrid-Resume-Token": "t"})
            return refused, (await client.get("/metrics")).text

    refused, metrics = run(scenario())
    assert (refused.status_code, refused.json()["error"]["type"]) == (503, "shutting_down")
    assert resume_outcomes(metrics) == {"shutting_down": 1.0}


def test_the_answer_url_under_a_mount_path_with_url_syntax_is_percent_encoded_and_resumes() -> None:
    import httpx

    import hybrid
    from hybrid._settings import Settings
    from hybrid.dev.tickets import chat_ticket

    settings = Settings(secret_key="in-process", demo_ttft_ms=0, demo_token_ms=0)
    app = hybrid.create_app(settings=settings)
    root = "/team #1?x"

    async def scenario() -> tuple[dict[str, str], httpx.Response]:
        transport = httpx.ASGITransport(app=app, root_path=root)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = chat_ticket([{"role": "user", "content": "hi"}], "in-process", mount=root)
            streamed = await client.post("/api/stream", json=body, headers={"Hybrid-Resumable": "1"})
            head = json.loads(parse(streamed.text)[0].data)
            # As a browser resolves it: the URL's own path, mount path included.
            resumed = await client.get(
                httpx.URL("http://test" + head["url"]).raw_path.decode(),
                headers={"Hybrid-Resume-Token": head["token"], "Last-Event-ID": "1"},
            )
            return head, resumed

    head, resumed = run(scenario())
    assert head["url"] == f"/team%20%231%3Fx/api/stream/{head['id']}"
    assert resumed.status_code == 200, resumed.text
    assert text_of(parse(resumed.text))[1]  # the rest of the answer, to its [DONE]


def test_shutdown_ends_an_answer_that_redis_never_mirrored_with_the_notice_not_reconnect(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from hybrid.dev.servers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # HYBRID_REDIS_URL is set, but Redis went down

    async def scenario() -> CutClient:
        redis_client = connect(url)
        log = RedisAnswerLog(redis_client, url, max_frames=1000, reader_lease=5)
        answers, upstream = hub(log), Upstream()
        client = CutClient()
        reading = asyncio.create_task(read(await start(answers, upstream()), client))
        await asyncio.sleep(0.05)
        answers.supervisor.drain()  # SIGTERM: nobody else could resume this answer
        await reading
        await answers.close()
        await log.close()
        await redis_client.aclose()
        return client

    with caplog.at_level("WARNING", logger="hybrid.answers"):
        client = run(scenario())
    assert "reconnect" not in [m.event for m in client.messages]
    text, done = answer(client.body.decode())
    assert done and text.endswith("The answer stopped: the server is restarting.**")
    unreachable = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert unreachable and "TimeoutError" in unreachable[0], unreachable  # never an empty reason


def test_the_answer_instruments_of_a_registry_are_made_once_and_do_not_keep_it_alive() -> None:
    import gc
    import weakref

    from prometheus_client import CollectorRegistry

    from hybrid._answers.metrics import instruments_for

    registry = CollectorRegistry()
    assert instruments_for(registry) is instruments_for(registry)  # one set per registry
    gone = weakref.ref(registry)
    del registry
    gc.collect()
    assert gone() is None, "the registry of an app that is gone is kept for the process's life"


def test_a_grace_of_zero_turns_resuming_off_a_resumable_request_gets_a_plain_stream() -> None:
    import httpx

    import hybrid
    from hybrid._settings import Settings
    from hybrid.dev.tickets import chat_ticket

    settings = Settings(secret_key="in-process", resume_grace_seconds=0, demo_ttft_ms=0, demo_token_ms=0)
    app = hybrid.create_app(settings=settings)

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = chat_ticket([{"role": "user", "content": "hi"}], "in-process")
            streamed = await client.post("/api/stream", json=body, headers={"Hybrid-Resumable": "1"})
            resumed = await client.get(
                "/api/stream/" + "A" * 22, headers={"Hybrid-Resume-Token": "t", "Last-Event-ID": "1"}
            )
            return streamed, resumed

    streamed, resumed = run(scenario())
    messages = parse(streamed.text)
    assert "answer" not in [m.event for m in messages]  # no answer to resume is named ...
    assert "id:" not in streamed.text  # ... and no event numbers: nothing to resume from
    text, done = text_of(messages)
    assert done and text
    assert resumed.status_code == 204


def test_the_stop_channel_survives_a_failure_that_is_not_redis_own(redis_server: Any) -> None:
    """Before: the listener caught Redis errors only; any other exception ended it for good, and Stops
    from other workers were ignored until a restart."""

    async def scenario() -> list[str]:
        client = connect(redis_server.url)
        log = RedisAnswerLog(client, redis_server.url, max_frames=100, reader_lease=2)
        stopped: list[str] = []

        def on_stop(answer_id: str) -> None:
            if not stopped:
                stopped.append("broke")
                raise RuntimeError("a bug in the handler")
            stopped.append(answer_id)

        await log.listen(on_stop)
        await log.publish_stop("first")
        async with asyncio.timeout(10):
            while stopped[-1:] != ["second"]:  # it listens again after a second: publish until heard
                await log.publish_stop("second")
                await asyncio.sleep(0.2)
        await log.close()
        await client.aclose()
        return stopped

    assert run(scenario(), timeout=15)[:2] == ["broke", "second"]
