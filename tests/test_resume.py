"""Resumable answers in process: the hub, its frames and the Redis log, with a fake ASGI client.

The real-server tests (`test_resume_server.py`) prove the same over HTTP, across workers and restarts;
these pin exactness (a property over every cut point) and the timing of stop and grace.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybrid import Event, StreamSupervisor
from hybrid.answers import Answers
from hybrid.stores.answer_log import RedisAnswerLog
from hybrid.stores.redis import connect
from tests.conftest import run_async
from tests.sse_client import Message, parse

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
    return await answers.start(source, Request(), release=lambda: None, keepalive_seconds=15, send_timeout=5)


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
