"""Sync tools run on threads of their own: a hung tool holds one of them, never the server's shared
threads (gzip of large responses, Dash's files, sync answer functions), and once hung tools hold all of
them a new call is refused at once. In process (`SyncThreads`), then over real HTTP against a server
whose sync tool hangs.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import re
import threading
from typing import Any

import httpx
import pytest

import hybrid
from hybrid._tools.threads import SyncThreads, SyncThreadsBusy, ThreadCall
from hybrid._tools.tool import Tool, ToolCall, ToolContext
from tests.conftest import run_async, signed
from tests.support.sse_client import parse

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def where_am_i() -> str:
    """Says which thread runs it, and for which request."""
    return f"{threading.current_thread().name} for {request_id.get()}"


def test_a_sync_tool_runs_on_a_tool_thread_in_a_copy_of_the_callers_context() -> None:
    async def run() -> str:
        request_id.set("req-7")
        result = await Tool.from_function(where_am_i).call(ToolCall("c", "where_am_i", "{}"), ToolContext())
        return result.output

    thread, _, request = run_async(run()).partition(" for ")
    assert thread.startswith("hybrid-tool-") and request == "req-7"


class Gate:
    """A function that blocks its thread until the test opens the gate; counts its runs."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.runs = 0

    def __call__(self) -> str:
        self.runs += 1
        self.entered.set()
        self.opened.wait(10)
        return "through"


async def give_up(call: ThreadCall) -> None:
    """What a tool's timeout or a Stop does: cancel the task that awaits the call."""
    task = asyncio.ensure_future(call.result())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_call_given_up_while_it_runs_holds_its_thread_until_it_returns_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool, gate, after = SyncThreads(1), Gate(), Gate()
    after.opened.set()

    async def run() -> None:
        call = pool.submit("slow_report", gate)
        await asyncio.to_thread(gate.entered.wait, 5)
        await give_up(call)
        assert pool.held == 1
        with pytest.raises(SyncThreadsBusy, match="the server's 1 tool threads are all held"):
            pool.submit("next_report", after)  # refused at once: it could wait for ever
        gate.opened.set()
        while not call.finished:  # its thread ends the call just after the function returns
            await asyncio.sleep(0.005)
        assert pool.held == 0
        assert await pool.submit("next_report", after).result() == "through"

    with caplog.at_level(logging.INFO, logger="hybrid.tools"):
        run_async(run())
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("the tool slow_report was given up (its timeout, or a Stop)")
    assert "1 of 1 tool threads are held so" in messages[0]
    assert messages[1] == "the tool next_report was not run: all 1 tool threads are held"
    assert messages[2].startswith("the given-up tool slow_report returned after")
    assert (gate.runs, after.runs) == (1, 1)


def test_a_call_waiting_for_a_busy_thread_waits_and_one_given_up_while_waiting_never_runs() -> None:
    pool, gate, dropped, queued = SyncThreads(1), Gate(), Gate(), Gate()
    queued.opened.set()

    async def run() -> str:
        running = pool.submit("report", gate)
        await asyncio.to_thread(gate.entered.wait, 5)
        waiting = pool.submit("dropped", dropped)
        assert not waiting.started
        await give_up(waiting)  # it never had a thread: nothing is held
        assert pool.held == 0
        later = pool.submit("queued", queued)  # the thread is busy, not given up: this one waits
        gate.opened.set()
        assert await running.result() == "through"
        return await later.result()  # type: ignore[no-any-return]

    assert run_async(run()) == "through"
    assert (gate.runs, dropped.runs, queued.runs) == (1, 0, 1)


def test_a_sync_tool_that_never_got_a_thread_says_it_did_not_start() -> None:
    pool, gate = SyncThreads(1), Gate()

    def report() -> str:
        """A report."""
        return "done"

    async def run() -> str:
        pool.submit("busy", gate)
        await asyncio.to_thread(gate.entered.wait, 5)
        try:
            tool = Tool.from_function(report, timeout=0.05)
            return (await tool.call(ToolCall("c", "report", "{}"), ToolContext(threads=pool))).output
        finally:
            gate.opened.set()

    assert run_async(run()) == "error: the tool did not start within 0.05 s: the tool threads were busy"


def test_an_apps_sync_tools_run_on_threads_of_its_own_settings() -> None:
    # Settings made in code reach the pool: nothing is read from the environment behind the app's back.
    app = hybrid.create_app(settings=hybrid.Settings(tool_threads=3))
    assert app.chat.tool_threads is not None and app.chat.tool_threads.size == 3


APP = "tests.apps.tool_threads_app:server"
TOOL_THREADS = 2
DEFAULT_EXECUTOR = min(32, (os.cpu_count() or 1) + 4)
"""The threads of asyncio's default executor, which `asyncio.to_thread` shares with the whole server."""
HUNG = "error: the tool did not finish within 0.3 s"
REFUSED = (
    f"error: the tool was not run: the server's {TOOL_THREADS} tool threads are all held by earlier calls "
    "that did not finish"
)


def ask_hang(server: Any) -> dict[str, Any]:
    body = signed({"chat": "assistant", "messages": [{"role": "user", "content": "hang"}], "context": []})
    response = httpx.post(server.url + "/api/stream", json=body, timeout=10)
    assert response.status_code == 200, response.text
    (result,) = [json.loads(m.data) for m in parse(response.text) if m.event == "tool_result"]
    return result  # type: ignore[no-any-return]


def test_hung_sync_tools_hold_only_the_tool_threads_and_the_dashboard_still_loads(serve: Any) -> None:
    server = serve(APP, env={"HYBRID_TOOL_THREADS": str(TOOL_THREADS)})
    page = httpx.get(server.url + "/", timeout=5).text
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)

    # More hung calls than the default executor has threads: on it, these would take every one.
    outputs = [ask_hang(server)["output"] for _ in range(DEFAULT_EXECUTOR + 1)]
    assert outputs == [HUNG] * TOOL_THREADS + [REFUSED] * (DEFAULT_EXECUTOR + 1 - TOOL_THREADS)

    layout = httpx.get(server.url + "/_dash-layout", headers={"Accept-Encoding": "gzip"}, timeout=5)
    assert layout.status_code == 200 and layout.headers["content-encoding"] == "gzip"
    assert len(layout.content) > 16_384  # large enough to be gzipped on a thread
    script = httpx.get(server.url + scripts[-1], timeout=5)  # not read before: loaded on a thread
    assert script.status_code == 200 and script.content
    log = server.output()
    assert log.count("the tool hang was given up") == TOOL_THREADS
    assert "the tool hang was not run: all 2 tool threads are held" in log
