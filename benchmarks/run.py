"""Run the suite: `python -m benchmarks.run [--full] [--rounds N] [--only S1,S2] [--contenders a,b]`.

Pins itself (the load generator) to core 1 and every server to core 0. Contenders run in interleaved
rounds (the order rotates each round), each on a fresh server; results are written after every round to
`benchmarks/results/<mode>.json`, then the markdown table and the charts are rebuilt from them. It exits
with status 1 when any scenario of any contender failed (lost, refused or cut a stream, or broke), and
lists each failure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import page_load, render_budget, report, scenarios
from benchmarks.accounting import Tally
from benchmarks.contenders import CONTENDERS, LOADGEN_CPU, SPAWNED, Contender, Server
from benchmarks.scenarios import Metrics, Sizes

RESULTS = Path(__file__).resolve().parent / "results"

Scenario = Callable[[Server, Sizes], Metrics]
_STREAMERS = ("raw", "hybrid", "granian", "werkzeug", "gthread", "gevent", "two-services", "dash-fastapi")
_DASH = ("hybrid", "granian", "werkzeug", "gthread", "gevent", "two-services", "dash-fastapi")
_PROXIES = (
    "hybrid-local",
    "hybrid-openai",
    "hybrid-resumable",
    "gevent-sdk",
    "gthread-sdk",
    "dash-fastapi-sdk",
)
PLAN: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "S1": (scenarios.s1_event_cost, ("raw", "hybrid", "hybrid-asyncio", *_STREAMERS[2:])),
    "S2": (scenarios.s2_capacity, _STREAMERS),
    "S3": (scenarios.s3_storm, _STREAMERS),
    "S4": (scenarios.s4_idle_memory, _STREAMERS),
    "S5": (scenarios.s5_interference, _DASH),
    "S6": (scenarios.s6_dash_side, ("hybrid", "granian", "werkzeug", "gthread", "gevent", "dash-fastapi")),
    "S7": (scenarios.s7_proxy, _PROXIES),
    "S8": (scenarios.s8_disconnect_storm, _STREAMERS),
    "S9": (scenarios.s9_proxy_capacity, _PROXIES),
    "S10": (page_load.s10_page_load, ("hybrid-local",)),
    "S11": (render_budget.s11_render_budget, ("hybrid-local",)),
}
SWEEPS = {"S2": scenarios.s2_capacity, "S9": scenarios.s9_proxy_capacity}
"""Capacity searches: each round starts from the previous round's answer."""
QUICK_SKIP = {"werkzeug", "hybrid-asyncio"}
FULL_SKIP: set[str] = set()
FIRST_GUESS = {"gthread": 32, "werkzeug": 200, "gthread-sdk": 32}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "?")
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(v, 2) for v in load],
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in (
        "dash",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "a2wsgi",
        "flask",
        "gunicorn",
        "gevent",
        "granian",
        "fastapi",
        "sse-starlette",
        "openai",
    ):
        with contextlib.suppress(PackageNotFoundError):
            found[name] = version(name)
    return found


def run_contender(
    contender: Contender, wanted: list[str], sizes: Sizes, hints: dict[str, int]
) -> dict[str, Metrics]:
    """Start one contender, run every wanted scenario it takes part in, stop it."""
    out: dict[str, Metrics] = {}
    with Server(contender) as server:
        fresh = True
        for key in wanted:
            func, who = PLAN[key]
            if contender.name not in who:
                continue
            if not fresh:  # no scenario inherits another's leftovers (e.g. threads still asleep in S4)
                server.restart()
            scenarios.warm_up(server)
            fresh = False
            began = time.perf_counter()
            try:
                if key in SWEEPS:
                    hint = hints.get(f"{key}/{contender.name}")
                    first = hint or FIRST_GUESS.get(contender.name, 400 if key == "S2" else 200)
                    out[key] = SWEEPS[key](server, sizes, start=first, fine=hint is not None)
                    hints[f"{key}/{contender.name}"] = out[key]["capacity"] or first
                else:
                    out[key] = func(server, sizes)
            except Exception as exc:  # one contender failing a scenario must not lose the round
                out[key] = broken(exc)
            print(
                f"  {key} {contender.name}: {time.perf_counter() - began:.1f}s {_brief(out[key])}", flush=True
            )
    return out


def broken(exc: BaseException) -> Metrics:
    """The result of a scenario that raised: no figures, failed."""
    failure = f"{type(exc).__name__}: {exc}"
    return {"error": failure, "ok": False, "failure": failure}


def _brief(metrics: Metrics) -> str:
    keys = (
        "cpu_us_per_event",
        "cpu_us_per_token",
        "capacity",
        "ttft_p99_ms",
        "kb_per_stream",
        "itl_p99_ms",
        "callback_p99_ms",
        "callback_per_s",
        "release_all_ms",
        "transferred_kb",
        "usable_ms",
    )
    figures = " ".join(
        f"{k}={metrics[k]:.4g}" if isinstance(metrics[k], float) else f"{k}={metrics[k]}"
        for k in keys
        if k in metrics
    )
    counts = " ".join(
        f"{name}={Tally.from_dict(t).verdict()}" for name, t in metrics.get("tallies", {}).items()
    )
    return f"{figures} [{counts}]" + ("" if metrics.get("ok") else f" FAILED: {metrics.get('failure')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--full", action="store_true", help="bigger loads, 5 rounds (make bench-full)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default: 1 quick, 5 full)")
    parser.add_argument("--only", default=",".join(PLAN), help="scenarios, e.g. S1,S2")
    parser.add_argument("--contenders", help="comma-separated names (default: all that apply)")
    parser.add_argument("--out", help="results name (default: quick or full)")
    args = parser.parse_args(argv)

    os.sched_setaffinity(0, {int(LOADGEN_CPU)})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sys.setswitchinterval(0.001)

    mode = "full" if args.full else "quick"
    sizes = scenarios.FULL if args.full else scenarios.QUICK
    rounds = args.rounds or (5 if args.full else 1)
    wanted = [key.strip().upper() for key in args.only.split(",")]
    names = (
        args.contenders.split(",")
        if args.contenders
        else [
            name
            for name in CONTENDERS
            if any(name in PLAN[key][1] for key in wanted)
            and name not in (QUICK_SKIP if mode == "quick" else FULL_SKIP)
        ]
    )
    out = RESULTS / f"{args.out or mode}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "mode": mode,
        "rounds": 0,
        "sizes": sizes.__dict__,
        "machine": machine(),
        "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
        "contenders": {
            name: {"label": CONTENDERS[name].label, "notes": CONTENDERS[name].notes} for name in names
        },
        "runs": {key: {} for key in wanted},
    }
    hints: dict[str, int] = {}
    began = time.perf_counter()
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        print(f"round {index + 1}/{rounds}: {' '.join(order)}", flush=True)
        for name in order:
            try:
                measured = run_contender(CONTENDERS[name], wanted, sizes, hints)
            except RuntimeError as exc:  # it did not start: say so in the results, go on with the others
                print(f"  {name}: {exc}", flush=True)
                measured = {key: broken(exc) for key in wanted if name in PLAN[key][1]}
            for key, metrics in measured.items():
                document["runs"][key].setdefault(name, []).append({"round": index + 1, **metrics})
        document["rounds"] = index + 1
        document["seconds"] = round(time.perf_counter() - began, 1)
        out.write_text(json.dumps(document, indent=1, default=float))
        report.build(out)
    left = _check_leftovers()
    print(f"done in {time.perf_counter() - began:.0f}s: {out}, {out.with_suffix('.md')}", flush=True)
    failed = report.failures(document)
    for line in failed:
        print(f"FAILED {line}", flush=True)
    return 1 if failed or left else 0


def _check_leftovers() -> list[int]:
    """The process groups this run started that still have a member (there should be none), said aloud."""
    alive = []
    for group in SPAWNED:
        try:
            os.killpg(group, 0)
            alive.append(group)
        except ProcessLookupError:
            pass
    print(f"FAILED: process groups still alive: {alive}" if alive else "no server process left", flush=True)
    return alive


if __name__ == "__main__":
    sys.exit(main())
