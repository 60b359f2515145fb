"""`Watchdog` in process: it cancels a wait only past its deadline, re-arms cheaply, knows its own cancel."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hybrid._providers.openai.watchdog import Watchdog
from tests.conftest import run_async


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    """Run `test()` on asyncio's own loop (its `call_at` can be counted), in a thread of its own."""
    return run_async(test())  # type: ignore[arg-type]


async def wait(watchdog: Watchdog, due_in: float, seconds: float) -> None:
    """Wait `seconds` for data expected within `due_in`, as a reader does."""
    loop = asyncio.get_running_loop()
    watchdog.expect(loop.time() + due_in)
    try:
        await asyncio.sleep(seconds)
    finally:
        watchdog.due = None


def test_it_cancels_a_wait_that_outlives_the_deadline_and_says_so() -> None:
    async def test() -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        watchdog = Watchdog()
        started = loop.time()
        try:
            await wait(watchdog, 0.05, 5)
        except asyncio.CancelledError:
            return loop.time() - started, watchdog.expired()
        raise AssertionError("not cancelled")

    elapsed, expired = run(test)
    assert expired
    assert 0.05 <= elapsed < 0.5


def test_waits_within_their_deadlines_are_never_cancelled() -> None:
    async def test() -> None:
        watchdog = Watchdog()
        for _ in range(30):  # 0.3 s in all, each wait well within its 250 ms (a loaded machine stalls)
            await wait(watchdog, 0.25, 0.01)
        watchdog.close()

    run(test)


def test_time_spent_outside_a_wait_does_not_count() -> None:
    async def test() -> None:
        watchdog = Watchdog()
        await wait(watchdog, 0.03, 0.001)
        await asyncio.sleep(0.1)  # e.g. writing to a slow browser: past the deadline, but not waiting
        await wait(watchdog, 0.03, 0.001)
        watchdog.close()

    run(test)


def test_deadlines_that_move_later_reuse_one_timer() -> None:
    async def test() -> int:
        loop = asyncio.get_running_loop()
        timers = 0
        call_at = loop.call_at

        def counting(when: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
            nonlocal timers
            timers += 1
            return call_at(when, callback, *args)

        loop.call_at = counting  # type: ignore[method-assign]
        watchdog = Watchdog()
        for _ in range(200):
            await wait(watchdog, 10.0, 0)
        watchdog.close()
        return timers

    assert run(test) == 1


def test_a_deadline_that_moves_earlier_is_kept() -> None:
    async def test() -> bool:
        watchdog = Watchdog()
        await wait(watchdog, 10.0, 0)  # a long first-token deadline armed the timer
        try:
            await wait(watchdog, 0.03, 5)
        except asyncio.CancelledError:
            return watchdog.expired()
        return False

    assert run(test)


def test_another_cancellation_is_not_taken_for_the_watchdog() -> None:
    async def test() -> bool:
        watchdog = Watchdog()
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_later(0.02, task.cancel)  # e.g. the browser left
        try:
            await wait(watchdog, 5.0, 5)
        except asyncio.CancelledError:
            return watchdog.expired()
        return True

    assert run(test) is False


def test_a_cancellation_beside_the_watchdogs_own_is_not_taken_for_it_alone() -> None:
    async def test() -> bool:
        loop = asyncio.get_running_loop()
        watchdog = Watchdog()
        task = asyncio.current_task()
        assert task is not None
        due = loop.time() + 0.02
        watchdog.expect(due)
        loop.call_at(due, task.cancel)  # e.g. the browser left at the same moment
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return watchdog.expired()
        return True

    assert run(test) is False


def test_it_needs_a_task_to_guard() -> None:
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(RuntimeError):
        pool.submit(Watchdog).result()  # no running loop, no task


def test_it_cancels_the_task_that_waits_now_not_the_one_that_made_it() -> None:
    """Before: a watchdog bound to the task that made it; an answer read from another task (the answer
    function's `asyncio.wait_for` on Python 3.11, say) had no deadline, or the wrong task was cancelled."""

    async def test() -> tuple[bool, bool]:
        watchdog = Watchdog()  # made here, in the test's task

        async def reader() -> bool:
            try:
                await wait(watchdog, 0.05, 5)
            except asyncio.CancelledError:
                return watchdog.expired()
            return False

        other = asyncio.ensure_future(reader())
        expired = await asyncio.wait_for(other, 2)  # the reader's own task is cancelled, in time
        return expired, asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

    assert run(test) == (True, True)
