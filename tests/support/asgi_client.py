"""An in-process HTTP client that holds a request open: a stream read as far as a test wants, a body that
arrives slowly or never, a client that leaves. `httpx.ASGITransport` waits for the whole response."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.support.sse_client import Message, parse


class Exchange:
    """One request to an ASGI `app`, running in a task of its own: its status, headers and body as they
    come; `leave()` disconnects it. `body` is sent at once unless `drip` (then nothing arrives until
    `send_body()`)."""

    def __init__(
        self,
        app: Any,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        drip: bool = False,
        client: tuple[str, int] = ("10.0.0.1", 1234),
        root_path: str = "",
    ) -> None:
        sent = {"content-type": "application/json", "host": "test", **(headers or {})}
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": root_path + path,
            "raw_path": (root_path + path).encode(),
            "root_path": root_path,
            "query_string": b"",
            "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
            "client": client,
            "server": ("127.0.0.1", 8050),
        }
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self._incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._started = asyncio.Event()
        self._more = asyncio.Event()
        if not drip:
            self._incoming.put_nowait({"type": "http.request", "body": body, "more_body": False})
        self.task = asyncio.ensure_future(app(self.scope, self._incoming.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
            self._started.set()
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            self._more.set()

    def send_body(self, body: bytes, *, more: bool = False) -> None:
        self._incoming.put_nowait({"type": "http.request", "body": body, "more_body": more})

    async def started(self, timeout: float = 5.0) -> Exchange:
        await asyncio.wait_for(self._started.wait(), timeout)
        return self

    async def events(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait until `count` events arrived; all of them so far."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < count and not self.task.done():
                self._more.clear()
                await self._more.wait()
        return self.messages

    async def finished(self, timeout: float = 10.0) -> Exchange:
        await asyncio.wait_for(asyncio.shield(self.task), timeout)
        return self

    def leave(self) -> None:
        """The client disconnects."""
        self._incoming.put_nowait({"type": "http.disconnect"})

    @property
    def messages(self) -> list[Message]:
        return parse(self.body.decode(errors="ignore"))

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def head(self) -> dict[str, str]:
        first = self.messages[0]
        assert first.event == "answer", first
        return json.loads(first.data)
