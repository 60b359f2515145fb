"""Where a Dash request's CPU goes: py-spy over S6's closed loop, hybrid (a2wsgi) beside gunicorn gthread.

    taskset -c 1 .venv/bin/python -m benchmarks.profile_dash [--kind callback] [--seconds 6] [--rate 250]

Each contender serves S6's load of one kind (16 keep-alive clients back to back) while py-spy samples
the thread holding the GIL (`--gil`, so waiting threads do not count). Every sample is put in one layer
by its stack, first rule first:

- `bridge`: a2wsgi's frames (building the environ, reading the body and sending for the app, moving
  work between the event loop and its threads), the event loop completing their futures, and any stack
  whose innermost frame is thread hand-off (`threading`, `queue`, `concurrent.futures`: for gthread,
  gunicorn's thread pool);
- `app`: Flask and Dash handling the request (inside `Flask.wsgi_app`);
- `server`: uvicorn, Starlette, hybrid's middleware, gunicorn (for gthread also its environ and parser);
- `other`.

The /proc CPU per request, split by those shares, gives microseconds per request per layer; the stacks
that cost most are listed per layer (their two innermost frames). Results:
`benchmarks/results/profile-dash.json`. Loopback only; bounded in seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import loadgen, paced, scenarios, stats
from benchmarks.contenders import CONTENDERS, LOADGEN_CPU, Server
from benchmarks.run import RESULTS

PY_SPY = Path(sys.executable).parent / "py-spy"
LAYERS = ("bridge", "app", "server", "other")
_BRIDGE = ("a2wsgi/", "_chain_future", "run_coroutine_threadsafe")
_HANDOFF = ("(threading.py", "(queue.py", "(concurrent/futures/")
_SERVER = ("uvicorn/", "starlette/", "hybrid/", "gunicorn/", "asyncio/")


def layer(frames: list[str]) -> str:
    """The layer of a sample: its frames outermost first, each `Class.function (package/file.py:line)`."""
    app = next((i for i, frame in enumerate(frames) if "wsgi_app (flask/" in frame), None)
    inner = frames if app is None else frames[app + 1 :]  # above the app, a2wsgi only calls it
    if any(mark in frame for frame in inner for mark in _BRIDGE):
        return "bridge"
    if app is not None:
        return "app"
    if frames and any(mark in frames[-1] for mark in _HANDOFF):
        return "bridge"
    if any(mark in frame for frame in frames for mark in _SERVER):
        return "server"
    return "other"


def read_samples(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: one `frame;frame;... count` line per distinct stack."""
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():  # the first frame names the process (`--subprocesses`)
            samples.append(([f for f in stack.split(";") if not f.startswith("process ")], int(count)))
    return samples


def summarize(samples: list[tuple[list[str], int]], cpu_us_per_request: float) -> dict[str, Any]:
    total = sum(count for _, count in samples) or 1
    by_layer: Counter[str] = Counter()
    hottest: dict[str, Counter[str]] = {name: Counter() for name in LAYERS}
    for frames, count in samples:
        name = layer(frames)
        by_layer[name] += count
        hottest[name][" < ".join(reversed(frames[-2:]))] += count
    return {
        "samples": total,
        "share": {name: by_layer[name] / total for name in LAYERS},
        "us_per_request": {name: by_layer[name] / total * cpu_us_per_request for name in LAYERS},
        "hottest": {
            name: [(frame, round(n / total, 4)) for frame, n in hottest[name].most_common(8)]
            for name in LAYERS
        },
    }


def profile(name: str, kind: str, seconds: float, rate: int) -> dict[str, Any]:
    """Serve one contender, load it with S6's `kind` for `seconds` under py-spy; what each layer costs."""
    with Server(CONTENDERS[name]) as server, tempfile.TemporaryDirectory() as tmp:
        scenarios.warm_up(server)
        out = Path(tmp) / "profile.txt"
        spy = subprocess.Popen(
            ["taskset", "-c", LOADGEN_CPU, str(PY_SPY), "record", "--pid", str(server.pids[0]),
             "--subprocesses", "--gil", "--nonblocking", "--rate", str(rate),
             "--duration", str(int(seconds) + 2), "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        request = scenarios.s6_requests(server)[kind]

        async def load() -> loadgen.RequestStats:
            return await loadgen.closed_loop(server.dash_port, [request], 16, seconds)

        calls, cost = paced.measure(server, load)
        _, err = spy.communicate(timeout=seconds + 30)
        if spy.returncode != 0 or not out.exists():
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
        done = len(calls.latencies)
        cpu_us = cost["server_cpu_s"] / max(done, 1) * 1e6
        return {
            "contender": name,
            "kind": kind,
            "requests": done,
            "failed": sum(calls.errors.values()) + sum(n for s, n in calls.statuses.items() if s != 200),
            "per_s": done / calls.seconds,
            "p99_ms": stats.pct(calls.latencies, 99),
            "cpu_us_per_request": cpu_us,
            **summarize(read_samples(out), cpu_us),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("page", "asset", "callback"), default="callback")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--contenders", default="hybrid,gthread")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 60:
        parser.error("keep it bounded: 1-60 seconds")
    results = [profile(name, args.kind, args.seconds, args.rate) for name in args.contenders.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "profile-dash.json").write_text(json.dumps(results, indent=1))
    for result in results:
        rate, cpu = result["per_s"], result["cpu_us_per_request"]
        print(
            f"{result['contender']}: {rate:.0f} {args.kind}/s, {cpu:.0f} µs CPU per request, "
            f"{result['samples']} samples, {result['failed']} failed"
        )
        for name in LAYERS:
            print(f"  {name:<7} {result['share'][name]:6.1%} {result['us_per_request'][name]:7.0f} µs")
            for frame, share in result["hottest"][name][:5]:
                print(f"           {share:6.1%}  {frame}")


if __name__ == "__main__":
    main()
