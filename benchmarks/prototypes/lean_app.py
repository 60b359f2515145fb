"""Proposal: one task per stream instead of three, on top of `bypass_app`'s dispatch.

`EventStreamResponse` runs the source in a pump task and waits in the request task, through
`asyncio.wait`, for the pump, a disconnect task and the shutdown future. Here the request task runs the
source itself; a small watcher task cancels it on `http.disconnect`, and the keep-alive check is a timer
handle every `keepalive/2` seconds rather than a wait with a timeout. Shutdown draining is left out of the
prototype (it would be one more done-callback on the supervisor's future, not a task).
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from benchmarks import tokens
from benchmarks.apps.hybrid_app import app as hybrid_app
from hybrid import sse
from hybrid.streaming import EventStreamResponse


class LeanEventStreamResponse(EventStreamResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._loop = loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        assert me is not None
        watcher = loop.create_task(_cancel_on_disconnect(receive, me))
        check = loop.call_later(self.keepalive_seconds / 2, self._keepalive, send)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            self._last_write = loop.time()
            await self._pump(send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not watcher.done() or me.uncancel():
                raise  # cancelled by someone else than the watcher
        except OSError:
            pass
        finally:
            check.cancel()
            watcher.cancel()

    def _keepalive(self, send: Send) -> None:
        loop = self._loop
        if not self._writing_since and loop.time() - self._last_write >= self.keepalive_seconds:
            loop.create_task(self._write(send, sse.KEEPALIVE))
        loop.call_later(self.keepalive_seconds / 2, self._keepalive, send)


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[None]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    with contextlib.suppress(RuntimeError):
        task.cancel()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"] == tokens.STREAM_PATH:
        plan = tokens.Plan.from_query(Request(scope).query_params)
        response = LeanEventStreamResponse(tokens.atokens(plan))
        response.raw_headers.append((b"x-content-type-options", b"nosniff"))
        await response(scope, receive, send)
        return
    await hybrid_app(scope, receive, send)
