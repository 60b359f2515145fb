"""What resumable answers cost per event: CPU and memory of the answer buffer, in memory and in Redis.

Two measurements, each interleaved over rounds so that drift on a shared machine hits every contender:

* in process (no sockets): one stream of back-to-back events into an ASGI `send` that does nothing;
  the source yields to the event loop once per event, as a real upstream read does. Contenders: a raw
  ASGI floor, today's `EventStreamResponse`, a resumable answer buffered in memory, and one mirrored
  to Redis as well. Memory: bytes held per buffered event (Python heap; Redis `MEMORY USAGE`).
* on a real server: uvicorn pinned to core 0 streams `--streams` answers of `--tokens` events paced at
  `--ms`, read by this process (pin it to core 1); CPU is the server's per event delivered, Redis's own
  CPU is given apart. Contenders: the raw ASGI app, hybrid today, hybrid resumable (`Hybrid-Resumable:
  1`) in memory, and with `HYBRID_REDIS_URL`.

    taskset -c 1 .venv/bin/python -m benchmarks.resume_cost [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis

from benchmarks import loadgen, procstat, tokens
from hybrid import EventStreamResponse, StreamSupervisor
from hybrid._answers.resumable import Answers
from hybrid._stores.redis.answer_log import RedisAnswerLog
from hybrid._stores.redis.connection import connect
from hybrid.dev.servers import free_port, wait_until_answering

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
SCOPE = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "method": "GET", "headers": []}


class _Request:
    scope = SCOPE


async def deltas(count: int) -> AsyncIterator[str]:
    for _ in range(count):
        await asyncio.sleep(0)  # one event per loop iteration, as tokens arrive from upstream
        yield tokens.TOKEN


async def _discard(message: dict[str, Any]) -> None:
    return None


async def _never(future: asyncio.Future[None]) -> dict[str, Any]:
    await future
    return {"type": "http.disconnect"}


async def in_process(contender: str, count: int, redis_url: str) -> float:
    """Microseconds of this process's CPU per event for one stream of `count` events."""
    never = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        return await _never(never)

    client = connect(redis_url) if contender == "resumable, Redis" else None
    log = RedisAnswerLog(client, redis_url, max_frames=count + 10, reader_lease=20) if client else None
    answers = Answers(StreamSupervisor(), grace=20, max_frames=count + 10, log=log)
    started = time.process_time()
    if contender == "raw ASGI floor":
        await send_raw(deltas(count))
    elif contender == "hybrid today":
        await EventStreamResponse(deltas(count))(SCOPE, receive, _discard)
    else:
        response = await answers.start(
            deltas(count), _Request(), release=lambda: None, keepalive_seconds=15, send_timeout=30
        )
        await response(SCOPE, receive, _discard)
        if log is not None:
            await log.close()  # the last frames written, as they would be within 10 ms
    cpu = (time.process_time() - started) / count * 1e6
    await answers.close()
    if client is not None:
        await client.flushdb()
        await client.aclose()
    return cpu


async def send_raw(source: AsyncIterator[str]) -> None:
    await _discard({"type": "http.response.start", "status": 200, "headers": []})
    async for delta in source:
        await _discard(
            {"type": "http.response.body", "body": f"data: {delta}\n\n".encode(), "more_body": True}
        )
    await _discard({"type": "http.response.body", "body": b"", "more_body": False})


async def buffer_bytes(count: int, redis_url: str) -> tuple[float, float]:
    """Bytes per buffered event: in this worker's memory (Python heap), and in Redis (`MEMORY USAGE`)."""
    client = connect(redis_url)
    log = RedisAnswerLog(client, redis_url, max_frames=count + 10, reader_lease=20)
    answers = Answers(StreamSupervisor(), grace=20, max_frames=count + 10, log=log)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    response = await answers.start(
        deltas(count), _Request(), release=lambda: None, keepalive_seconds=15, send_timeout=30
    )
    await response(SCOPE, lambda: _never(asyncio.get_running_loop().create_future()), _discard)
    await log.close()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    (answer_id,) = list(answers._answers)
    in_redis = await client.memory_usage(f"hybrid:answer:{{{answer_id}}}:log", samples=0)
    await answers.close()
    await client.flushdb()
    await client.aclose()
    return held / count, (in_redis or 0) / count


def start_redis(core: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = ["taskset", "-c", core, shutil.which("redis-server") or "redis-server", "--port", str(port)]
    process = subprocess.Popen([*argv, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return process, url
        except redis.ConnectionError:
            time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


SERVERS = {
    "raw ASGI": ("benchmarks.apps.raw_asgi:app", {}),
    "hybrid today": ("benchmarks.apps.hybrid_app:app", {}),
    "resumable, memory": ("benchmarks.apps.hybrid_app:app", {"resumable": True}),
    "resumable, Redis": ("benchmarks.apps.hybrid_app:app", {"resumable": True, "redis": True}),
}


def serve(target: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = ["taskset", "-c", "0", sys.executable, "-m", "uvicorn", target, "--port", str(port)]
    argv += ["--log-level", "warning", "--no-access-log", "--limit-concurrency", "10000"]
    full_env = {**os.environ, "HYBRID_SECRET_KEY": SECRET, "HYBRID_LOG_LEVEL": "warning", **env}
    process = subprocess.Popen(argv, env=full_env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    if not wait_until_answering(process, f"http://127.0.0.1:{port}{tokens.ACTIVE_PATH}", log, seconds=30):
        raise RuntimeError(log.read_text())
    return process, port


def paced_round(
    port: int, streams: int, plan: tokens.Plan, resumable: bool, pids: list[int]
) -> tuple[float, float, int]:
    """Server CPU µs per event, Redis CPU µs per event (0 without), and events delivered, for one round."""
    request = loadgen.stream_request(plan)
    if resumable:
        request = request.replace(b"Accept:", b"Hybrid-Resumable: 1\r\nAccept:")
    server_pid, *redis_pids = pids

    async def run() -> int:
        stream_set = loadgen.StreamSet(port, request)
        await stream_set.open(streams, spread_s=plan.ms / 1000)
        await stream_set.wait(timeout=plan.n * plan.ms / 1000 + 30)
        broken = [r for r in stream_set.results if not r.done or r.tokens != plan.n or r.error_event]
        if broken:  # a benchmark must not hide a failure behind a lower cost
            raise RuntimeError(
                f"{len(broken)} of {streams} streams did not deliver {plan.n} tokens: {broken[0]}"
            )
        return sum(result.tokens for result in stream_set.results)  # named events (`answer`) not counted

    before = procstat.sample([server_pid]).cpu_s, procstat.sample(redis_pids).cpu_s if redis_pids else 0.0
    events = asyncio.run(run())
    time.sleep(0.2)  # the last writes to Redis, and the server settling
    after = procstat.sample([server_pid]).cpu_s, procstat.sample(redis_pids).cpu_s if redis_pids else 0.0
    return (after[0] - before[0]) / events * 1e6, (after[1] - before[1]) / events * 1e6, events


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000, help="in process: events per stream")
    parser.add_argument("--streams", type=int, default=200, help="real server: concurrent streams")
    parser.add_argument("--tokens", type=int, default=100, help="real server: events per stream")
    parser.add_argument("--ms", type=float, default=20.0, help="real server: milliseconds between events")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    redis_process, redis_url = start_redis(core="1")
    results: dict[str, Any] = {"args": vars(args)}
    try:
        contenders = ["raw ASGI floor", "hybrid today", "resumable, memory", "resumable, Redis"]
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name in contenders:
                samples[name].append(asyncio.run(in_process(name, args.events, redis_url)))
        memory, in_redis = asyncio.run(buffer_bytes(args.events, redis_url))
        results["in_process_us_per_event"] = {name: summary(values) for name, values in samples.items()}
        results["bytes_per_buffered_event"] = {"memory": memory, "redis": in_redis}
        _print_in_process(results, args)
        results["server"] = paced(args, redis_url, redis_process.pid)
    finally:
        redis_process.terminate()
        redis_process.wait()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def paced(args: argparse.Namespace, redis_url: str, redis_pid: int) -> dict[str, Any]:
    plan = tokens.Plan(n=args.tokens, ms=args.ms)
    cpu: dict[str, list[float]] = {name: [] for name in SERVERS}
    redis_cpu: dict[str, list[float]] = {name: [] for name in SERVERS}
    with tempfile.TemporaryDirectory() as logs:
        running: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            for name, (target, options) in SERVERS.items():
                env = {"HYBRID_REDIS_URL": redis_url} if options.get("redis") else {}
                running[name] = serve(target, env, Path(logs) / f"{len(running)}.log")
            for _ in range(args.rounds):
                for name, (process, port) in running.items():
                    options = SERVERS[name][1]
                    pids = [process.pid, *([redis_pid] if options.get("redis") else [])]
                    server_us, redis_us, _ = paced_round(
                        port, args.streams, plan, bool(options.get("resumable")), pids
                    )
                    cpu[name].append(server_us)
                    redis_cpu[name].append(redis_us)
        finally:
            for process, _ in running.values():
                process.terminate()
                process.wait()
    floor = statistics.median(cpu["hybrid today"])
    print(
        f"\nreal server: {args.streams} streams x {args.tokens} events at {args.ms:g} ms, server CPU us/event"
    )
    print(f"{'contender':22} {'median':>8} {'spread':>15} {'x today':>8} {'redis-server':>13}")
    for name in SERVERS:
        values = cpu[name]
        redis_part = statistics.median(redis_cpu[name])
        print(
            f"{name:22} {statistics.median(values):8.1f} {min(values):7.1f}-{max(values):<7.1f} "
            f"{statistics.median(values) / floor:8.2f} {redis_part:13.1f}"
        )
    return {
        "server_us_per_event": {name: summary(values) for name, values in cpu.items()},
        "redis_server_us_per_event": {name: summary(values) for name, values in redis_cpu.items()},
    }


def _print_in_process(results: dict[str, Any], args: argparse.Namespace) -> None:
    timings = results["in_process_us_per_event"]
    floor = timings["hybrid today"]["median"]
    print(f"in process: {args.events} events x {args.rounds} rounds, CPU us per event (median, min-max)")
    print(f"{'contender':22} {'median':>8} {'spread':>15} {'x today':>8}")
    for name, values in timings.items():
        spread = f"{values['min']:7.2f}-{values['max']:<7.2f}"
        print(f"{name:22} {values['median']:8.2f} {spread} {values['median'] / floor:8.2f}")
    memory = results["bytes_per_buffered_event"]
    print(f"buffered: {memory['memory']:.0f} bytes per event in memory, {memory['redis']:.0f} in Redis")


if __name__ == "__main__":
    main()
