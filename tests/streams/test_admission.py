"""Per-client limits and once-only tickets in process: what they remember stays bounded."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

import pytest

from hybrid import ApiError, ClientLimiter
from hybrid._chat.tickets import TicketSigner
from tests.conftest import run_async


def test_a_full_client_table_forgets_the_idle_client_seen_longest_ago() -> None:
    limiter = ClientLimiter(per_minute=60, burst=5, concurrent=2, max_clients=3)
    release_a = limiter.admit("a")
    limiter.admit("b")  # stays open
    release_c = limiter.admit("c")
    release_a()
    release_c()
    limiter.admit("c")  # c is seen again: a is now the idle client seen longest ago
    limiter.admit("d")
    assert len(limiter) == 3
    limiter.admit("b")  # b kept its open stream: a third one would be refused
    with pytest.raises(ApiError) as refused:
        limiter.admit("b")
    assert refused.value.type == "too_many_streams"


def test_the_client_table_never_grows_past_its_bound() -> None:
    limiter = ClientLimiter(per_minute=60, burst=5, concurrent=1, max_clients=100)
    for n in range(40):
        limiter.admit(f"busy-{n}")  # clients with a stream open are never forgotten
    for n in range(10_000):
        limiter.admit(f"passer-{n}")()
        assert len(limiter) <= 100
    with pytest.raises(ApiError):
        limiter.admit("busy-0")  # still remembered, with its stream still open


def test_a_table_full_of_clients_with_open_streams_refuses_new_ones_with_503() -> None:
    limiter = ClientLimiter(per_minute=0, burst=1, concurrent=0, max_clients=2)
    limiter.admit("a")
    limiter.admit("b")
    with pytest.raises(ApiError) as busy:
        limiter.admit("c")
    assert (busy.value.status, busy.value.type) == (503, "server_busy")


def test_a_rate_limited_client_is_told_when_to_come_back() -> None:
    limiter = ClientLimiter(per_minute=6, burst=1, concurrent=0)
    limiter.admit("a")
    with pytest.raises(ApiError) as limited:
        limiter.admit("a")
    assert limited.value.status == 429
    assert limited.value.headers == {"Retry-After": "10"}


def test_used_tickets_are_remembered_until_they_expire_and_no_longer() -> None:
    signer = TicketSigner("key", max_age=1)  # itsdangerous counts whole seconds

    async def scenario() -> None:
        for _ in range(1500):
            await signer.verify(signer.issue({}))
        await asyncio.sleep(2.05)  # every nonce so far has expired (kept a second past max_age)
        for _ in range(1500):
            await signer.verify(signer.issue({}))
            assert len(signer) <= 2 * 1500

    run_async(scenario())
    assert len(signer) < 1500 + 1024


def test_a_ticket_is_accepted_once() -> None:
    signer = TicketSigner("key")
    ticket = signer.issue({"messages": []})
    assert run_async(signer.verify(ticket)) == {"messages": []}
    with pytest.raises(ApiError) as replay:
        run_async(signer.verify(ticket))
    assert replay.value.type == "ticket_used"


def calls_made_by(call: Callable[[], object]) -> int:
    """The function calls `call()` makes, Python and built-in alike: the work it does, counted."""
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        call()
    finally:
        sys.setprofile(None)
    return calls


def work_per_new_client(max_clients: int, open_share: float) -> int:
    """The calls one new client costs on a full table in which `open_share` of the clients stream now."""
    limiter = ClientLimiter(per_minute=60, burst=5, concurrent=1, max_clients=max_clients)
    streaming = int(max_clients * open_share)
    for n in range(streaming):
        limiter.admit(f"streaming-{n}")
    for n in range(max_clients - streaming):
        limiter.admit(f"idle-{n}")()
    work = [calls_made_by(lambda n=n: limiter.admit(f"new-{n}")()) for n in range(50)]
    assert len(limiter) == max_clients
    return max(work)


@pytest.mark.parametrize("open_share", [0.0, 0.5, 0.99])
def test_a_new_client_costs_the_same_work_whatever_the_size_of_the_full_table(open_share: float) -> None:
    small, large = work_per_new_client(100, open_share), work_per_new_client(10_000, open_share)
    assert large == small, f"{small} calls per new client among 100 clients, {large} among 10,000"


def test_a_table_full_of_streaming_clients_refuses_a_new_one_without_walking_it() -> None:
    def refusal_work(max_clients: int) -> int:
        limiter = ClientLimiter(per_minute=0, burst=1, concurrent=0, max_clients=max_clients)
        for n in range(max_clients):
            limiter.admit(f"streaming-{n}")

        def refused() -> None:
            with pytest.raises(ApiError):
                limiter.admit("new")

        return calls_made_by(refused)

    assert refusal_work(10_000) == refusal_work(100)
