"""How many a2wsgi threads should Dash get? Callback throughput and latency per thread count.

Two callbacks stand for what Dash apps do: `wait` sleeps 20 ms (a database or API call, GIL released)
and `compute` burns 5 ms of CPU (GIL held). Each thread count serves both under 64 concurrent clients.

    .venv/bin/python benchmarks/wsgi_threads.py [--threads 4 8 16 32 64] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
APP = "benchmarks.wsgi_threads_app:app"


def payload(callback: str) -> dict:
    return {
        "output": f"{callback}-out.children",
        "outputs": {"id": f"{callback}-out", "property": "children"},
        "inputs": [{"id": f"{callback}-in", "property": "value", "value": "x"}],
        "changedPropIds": [f"{callback}-in.value"],
        "state": [],
    }


async def load(url: str, callback: str, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    body = payload(callback)
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=url, limits=httpx.Limits(max_connections=clients), timeout=30
    ) as client:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/_dash-update-component", json=body)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


def serve(threads: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HYBRID_WSGI_THREADS": str(threads)}
    command = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "uvicorn",
        APP,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = {}
    print(f"{'threads':>7} {'callback':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for threads in args.threads:
        process = serve(threads, 8790)
        try:
            for callback in ("wait", "compute"):
                latencies = asyncio.run(load("http://127.0.0.1:8790", callback, args.clients, args.seconds))
                latencies.sort()
                row = {
                    "requests_per_second": len(latencies) / args.seconds,
                    "p50_ms": statistics.median(latencies) * 1000,
                    "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
                }
                results[f"{threads}/{callback}"] = row
                rate, p50, p99 = row["requests_per_second"], row["p50_ms"], row["p99_ms"]
                print(f"{threads:7} {callback:>8} {rate:8.0f} {p50:8.1f} {p99:8.1f}")
        finally:
            process.terminate()
            process.wait()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
