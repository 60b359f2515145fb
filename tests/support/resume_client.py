"""A resumable chat client over real HTTP, as the page will speak the protocol (`hybrid.answers.hub`)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import run_async, signed
from tests.support.sse_client import Message, parse

RESUMABLE = {"Hybrid-Resumable": "1"}
QUESTION = {"messages": [{"role": "user", "content": "resume me"}]}


class AnswerStream:
    """One `POST /api/stream` asking for a resumable answer, read as far as a test wants."""

    def __init__(self, base_url: str, body: dict[str, Any] | None = None) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=30)
        self._context = self._client.stream(
            "POST", "/api/stream", json=body or signed(QUESTION), headers=RESUMABLE
        )
        self.response = self._context.__enter__()
        self._chunks = self.response.iter_raw()
        self.raw = b""

    @property
    def messages(self) -> list[Message]:
        return parse(self.raw.decode(errors="ignore"))

    def read_until(self, done: Callable[[list[Message]], bool]) -> AnswerStream:
        for chunk in self._chunks:
            self.raw += chunk
            if done(self.messages):
                break
        return self

    def read_to_end(self) -> AnswerStream:
        """Read until the server closes the stream."""
        return self.read_until(lambda messages: False)

    def read_events(self, count: int) -> AnswerStream:
        """Read until the answer event and `count` events after it arrived."""
        return self.read_until(lambda messages: len(messages) > count)

    @property
    def head(self) -> dict[str, str]:
        first = self.messages[0]
        assert first.event == "answer", first
        return json.loads(first.data)

    @property
    def last_id(self) -> int:
        numbered = [m for m in self.messages if m.id]
        return int(numbered[-1].id) if numbered else 0

    @property
    def client_port(self) -> int:
        return self.response.extensions["network_stream"].get_extra_info("client_addr")[1]

    def drop(self) -> None:
        """Close the connection without a Stop, as a reload or a network change does."""
        self._context.__exit__(None, None, None)
        self._client.close()


def demo_answer() -> str:
    """The demo model's answer to `QUESTION`: the text a resumed answer must show, exactly."""
    from hybrid._providers.base import ChatRequest, Message
    from hybrid._providers.demo.model import DemoProvider

    async def collect() -> str:
        request = ChatRequest(messages=[Message("user", QUESTION["messages"][0]["content"])], model="demo")
        return "".join([delta async for delta in DemoProvider(ttft=0, token_delay=0).reply(request)])

    return run_async(collect())


def resume(base_url: str, head: dict[str, str], last_id: int, *, retries: int = 3) -> httpx.Response:
    """`GET` the answer's URL from `last_id` on, read to its end; a 503 is retried after its Retry-After
    (a worker that is stopping refuses, and the next try lands on another)."""
    sent = {"Hybrid-Resume-Token": head["token"], "Last-Event-ID": str(last_id)}
    response = httpx.get(base_url + head["url"], headers=sent, timeout=30)
    for _ in range(retries):
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("retry-after", "1")))
        response = httpx.get(base_url + head["url"], headers=sent, timeout=30)
    return response


def text_of(messages: list[Message]) -> tuple[str, bool]:
    """What `SSE(concat=True)` shows of `messages`: the text, and whether `[DONE]` came."""
    text = []
    for message in messages:
        if message.event == "message":
            if message.data == "[DONE]":
                return "".join(text), True
            text.append(message.data)
    return "".join(text), False


def worker_serving(server_pid: int, client_port: int) -> int:
    """The child process of `server_pid` holding the server side of the connection from `client_port`."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == client_port:  # its remote end is our client
                inodes[fields[9]] = 0
    for child in _children(server_pid):
        for fd in Path(f"/proc/{child}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return child
    raise AssertionError(f"no worker of {server_pid} holds the connection from port {client_port}")


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children
