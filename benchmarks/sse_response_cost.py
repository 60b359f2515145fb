"""CPU per event of SSE response implementations, measured in process (no sockets, no server).

This isolates what `hybrid.streaming` decides: the cost a response class adds per event on top of the
event loop. Each contender streams the same back-to-back deltas into an ASGI `send` that does nothing.

    taskset -c 0 .venv/bin/python benchmarks/sse_response_cost.py [--events 50000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.responses import StreamingResponse

from hybrid import EventStreamResponse

Scope = dict[str, Any]
Contender = Callable[[int], Callable[[Scope, Any, Any], Awaitable[None]]]


async def deltas(count: int) -> AsyncIterator[str]:
    for _ in range(count):
        yield " token"


def raw_asgi(count: int) -> Callable[[Scope, Any, Any], Awaitable[None]]:
    """The floor: an ASGI app that encodes and sends each delta, and nothing else."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        async for delta in deltas(count):
            await send(
                {"type": "http.response.body", "body": f"data: {delta}\n\n".encode(), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def hybrid_response(count: int) -> Any:
    return EventStreamResponse(deltas(count))


def starlette_streaming(count: int) -> Any:
    async def encoded() -> AsyncIterator[bytes]:
        async for delta in deltas(count):
            yield f"data: {delta}\n\n".encode()

    return StreamingResponse(encoded(), media_type="text/event-stream")


def sse_starlette(count: int) -> Any:
    return EventSourceResponse(deltas(count))


CONTENDERS: dict[str, Contender] = {
    "raw ASGI floor": raw_asgi,
    "hybrid EventStreamResponse": hybrid_response,
    "Starlette StreamingResponse": starlette_streaming,
    "sse-starlette EventSourceResponse": sse_starlette,
}


async def run_once(contender: Contender, count: int) -> float:
    """Microseconds of CPU per event for one stream of `count` events."""
    never = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        await never
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "method": "GET",
        "headers": [],
    }
    app = contender(count)
    started = time.process_time()
    await app(scope, receive, send)
    return (time.process_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()

    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(args.rounds):  # interleaved, so drift on a shared machine hits every contender alike
        for name, contender in CONTENDERS.items():
            samples[name].append(asyncio.run(run_once(contender, args.events)))

    floor = statistics.median(samples["raw ASGI floor"])
    print(f"{args.events} events x {args.rounds} rounds, CPU microseconds per event (median, min-max)")
    print(f"{'contender':36} {'median':>8} {'spread':>15} {'x floor':>8}")
    results = {}
    for name, values in samples.items():
        median = statistics.median(values)
        results[name] = {
            "median_us": median,
            "min_us": min(values),
            "max_us": max(values),
            "x_floor": median / floor,
        }
        print(f"{name:36} {median:8.2f} {min(values):7.2f}-{max(values):<7.2f} {median / floor:8.2f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"events": args.events, "rounds": args.rounds, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
