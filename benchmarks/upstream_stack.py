"""What a proxied token costs: hybrid's openai provider on each upstream HTTP stack, beside a local source.

    taskset -c 1 .venv/bin/python -m benchmarks.upstream_stack [--rounds 5] [--streams 200]
        [--contenders local,sdk-chunks,httpx2,aiohttp,aiohttp-direct,flask-gevent] [--profile NAME]

Every contender streams the same 100 tokens, 20 ms apart (the first at once), to `--streams` concurrent
`POST /api/stream` requests whose starts are spread over one second:

* `local`: hybrid's chat route with an in-process provider yielding the simulator's tokens on the same
  schedule (no upstream): the reference a provider token is compared with;
* `sdk-chunks`: hybrid's chat route with a provider that uses the SDK as its docs show
  (`chat.completions.create(stream=True)`, parsed chunk objects, the default httpx2 transport);
* `httpx2`, `aiohttp`, `aiohttp-direct`: hybrid's chat route with the openai provider (raw body,
  `ChunkDecoder`) reading `python -m hybrid.dev.simulator` through the SDK's default transport (httpx2),
  through the SDK's aiohttp transport read by httpx2's byte iterator, and through the same transport
  read by aiohttp's own `StreamReader` (what `hybrid.providers.openai` does);
* `flask-gevent`: Flask on gunicorn's gevent worker with the sync SDK's parsed chunks (what a Flask app
  would write).

Each server runs alone on core 0 (`taskset`); the simulator and this load generator share core 1. The
rounds are interleaved (every contender once per round). A run's CPU is the server's process tree
(utime + stime from /proc) over the run, divided by the tokens delivered. Every stream is checked
(`benchmarks.fidelity_load`): a run that lost, duplicated or failed anything is reported as such and
its figures are left out. `--profile NAME` records the named contender with py-spy during one extra run
and prints where its time went.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai

from benchmarks import fidelity_load, procstat
from hybrid._providers.base import ChatRequest, Completion, Reply, Usage
from hybrid._providers.openai import upstream
from hybrid._providers.openai.provider import OpenAIProvider, sdk_options
from hybrid.dev.servers import free_port
from hybrid.dev.simulator.scenario import answer_tokens
from hybrid.dev.tickets import chat_ticket

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = 0, 1
TOKENS, TOKEN_MS = 100, 20.0
SECRET = "upstream-stack-bench"
MODEL = "sim"
QUESTION = {"model": MODEL, "messages": [{"role": "user", "content": "What does a proxied token cost?"}]}
SLO_TTFT_MS, SLO_GAP_MS = 250.0, 100.0
STACK_ENV = "BENCH_UPSTREAM_STACK"


# The servers' apps (`uvicorn --factory benchmarks.upstream_stack:NAME`).


def local_app() -> object:
    """hybrid's chat route with the simulator's tokens from an in-process provider, on its schedule."""
    from hybrid._app import create_app
    from hybrid._settings import Settings

    class LocalProvider:
        name, models = "local", (MODEL,)

        def reply(self, request: ChatRequest) -> Reply:
            return Reply(self._generate(request))

        async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
            loop = asyncio.get_running_loop()
            due = loop.time()
            for token in answer_tokens(TOKENS):
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                yield token
                due += TOKEN_MS / 1000
            yield Completion(request.model, "stop", Usage(len(request.messages), TOKENS))

        async def aclose(self) -> None:
            pass

    return create_app(settings=Settings.from_env(), provider=LocalProvider())


def provider_app() -> object:
    """hybrid's chat route with the openai provider on the upstream stack `BENCH_UPSTREAM_STACK` names."""
    from hybrid._app import create_app
    from hybrid._settings import Settings

    stack = os.environ[STACK_ENV]
    settings = Settings.from_env()
    options = sdk_options(connect_timeout=5, first_token_timeout=60, token_gap_timeout=30)
    if stack in ("httpx2", "sdk-chunks"):  # the SDK's default transport
        options["http_client"] = openai.DefaultAsyncHttpxClient(limits=upstream.LIMITS)
    provider_class = {"sdk-chunks": SdkChunksProvider, "aiohttp": ThroughHttpx2}.get(stack, OpenAIProvider)
    client = openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, **options)
    return create_app(settings=settings, provider=provider_class(client, models=settings.model_choices))


class ThroughHttpx2(OpenAIProvider):
    """The provider reading the aiohttp transport's body through httpx2's byte iterator."""

    body_reader = staticmethod(upstream.httpx2_reader)


class SdkChunksProvider(OpenAIProvider):
    """The SDK used as its docs show: `chat.completions.create(stream=True)` and its parsed chunks."""

    async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        stream = await self.client.chat.completions.create(
            model=request.model,
            messages=[{"role": m.role, "content": m.content} for m in request.messages],  # type: ignore[misc]
            stream=True,
            stream_options={"include_usage": True},
        )
        finish_reason, usage = None, None
        async with stream:
            async for chunk in stream:
                if chunk.choices:
                    choice = chunk.choices[0]
                    if choice.delta.content:
                        yield choice.delta.content
                    finish_reason = choice.finish_reason or finish_reason
                if chunk.usage:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        yield Completion(model=request.model, finish_reason=finish_reason, usage=usage)


def flask_app() -> object:
    """Flask streaming the sync SDK's parsed chunks, as a Flask app would (gunicorn -k gevent)."""
    import openai
    from flask import Flask, Response

    app = Flask(__name__)
    client = openai.OpenAI(max_retries=0)  # OPENAI_API_KEY and OPENAI_BASE_URL from the environment

    @app.post("/api/stream")
    def stream() -> Response:
        def body() -> Any:
            chunks = client.chat.completions.create(
                model=MODEL,
                messages=QUESTION["messages"],
                stream=True,
                stream_options={"include_usage": True},
            )
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    text = chunk.choices[0].delta.content
                    yield ("data: " + text.replace("\n", "\ndata: ") + "\n\n").encode()
            yield b"data: [DONE]\n\n"

        return Response(body(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


# The contenders.

_PY = sys.executable
_GUNICORN_GEVENT = (
    *(_PY, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "1000"),
    *("-b", "127.0.0.1:{port}", "--log-level", "warning", "benchmarks.upstream_stack:flask_app()"),
)
_UVICORN = (
    _PY,
    "-m",
    "uvicorn",
    "--port",
    "{port}",
    "--log-level",
    "warning",
    "--no-access-log",
    "--factory",
)


@dataclass(frozen=True, slots=True)
class Contender:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str]
    completion: bool = True
    """Whether it sends hybrid's `completion` event (the Flask app does not)."""


def contenders(sim_port: int) -> dict[str, Contender]:
    upstream = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1"}
    hybrid = {
        "HYBRID_LOG_LEVEL": "warning",
        "HYBRID_CLIENT_STREAMS": "0",
        "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
        "HYBRID_SECRET_KEY": SECRET,
        "HYBRID_MODEL": MODEL,
    }
    provider = (*_UVICORN, "benchmarks.upstream_stack:provider_app")
    return {
        "local": Contender("local", (*_UVICORN, "benchmarks.upstream_stack:local_app"), hybrid),
        **{
            stack: Contender(stack, provider, {**hybrid, **upstream, STACK_ENV: stack})
            for stack in ("sdk-chunks", "httpx2", "aiohttp", "aiohttp-direct")
        },
        "flask-gevent": Contender("flask-gevent", _GUNICORN_GEVENT, upstream, completion=False),
    }


class Server:
    def __init__(self, contender: Contender, ready: str = "/healthz") -> None:
        self.contender = contender
        self.port = free_port()
        argv = [part.format(port=self.port) for part in contender.argv]
        self.process = subprocess.Popen(
            ["taskset", "-c", str(SERVER_CORE), *argv],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **contender.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait(ready if contender.name != "flask-gevent" else None)

    def _wait(self, ready: str | None) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.contender.name} exited: {self.process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                httpx.get(f"http://127.0.0.1:{self.port}{ready or '/'}", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.contender.name} did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_simulator() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", str(LOAD_CORE), _PY, "-m", "hybrid.dev.simulator", "--port", str(port),
         "--ttft-ms", "0", "--token-ms", str(TOKEN_MS), "--tokens", str(TOKENS)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
            return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the simulator did not start")


@dataclass(slots=True)
class Run:
    cpu_us_per_token: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    gap_p50_ms: float
    gap_p99_ms: float
    load_core_busy: float
    """Share of core 1 the simulator and the load generator used: near 1.0, the upstream was late."""
    fidelity: fidelity_load.Fidelity


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(server: Server, simulator: int, streams: int, spread_s: float) -> Run:
    requests = [
        fidelity_load.post("/api/stream", chat_ticket(QUESTION["messages"], SECRET, model=QUESTION["model"]))
        for _ in range(streams)
    ]
    expected = answer_tokens(TOKENS)
    load_before = procstat.self_cpu() + procstat.sample([simulator]).cpu_s
    before, started = procstat.sample([server.process.pid]).cpu_s, time.monotonic()
    results = asyncio.run(fidelity_load.run(server.port, requests, expected, spread_s, timeout=30))
    time.sleep(0.3)  # the server closes its connections inside the measured window
    wall = time.monotonic() - started
    cpu = procstat.sample([server.process.pid]).cpu_s - before
    load_busy = (procstat.self_cpu() + procstat.sample([simulator]).cpu_s - load_before) / wall
    fidelity = fidelity_load.check(results, expected, completion=server.contender.completion)
    ttfts = [(r.first - r.start) * 1000 for r in results if r.first is not None]
    gaps = [gap * 1000 for r in results for gap in r.gaps]
    return Run(
        cpu_us_per_token=cpu / max(fidelity.tokens, 1) * 1e6,
        ttft_p50_ms=_percentile(ttfts, 0.5),
        ttft_p99_ms=_percentile(ttfts, 0.99),
        gap_p50_ms=_percentile(gaps, 0.5),
        gap_p99_ms=_percentile(gaps, 0.99),
        load_core_busy=load_busy,
        fidelity=fidelity,
    )


def profile(server: Server, simulator: int, streams: int, spread_s: float, out: Path) -> None:
    """Record one run with py-spy (raw, collapsed stacks) and print the functions that took the most."""
    py_spy = str(Path(sys.executable).parent / "py-spy")
    spy = subprocess.Popen(
        [py_spy, "record", "--pid", str(server.process.pid), "--rate", "400", "--gil", "--format", "raw",
         "--output", str(out), "--duration", "4"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5)
    measure(server, simulator, streams, spread_s)
    spy.wait(30)
    summarize_profile(out)


def summarize_profile(path: Path, top: int = 25) -> None:
    """Self and inclusive shares of the event loop's samples per function, from py-spy's raw output.

    Time in C (uvloop's loop, socket syscalls) shows as the self time of `Runner.run`."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = [_frame(frame) for frame in stack.split(";")]
        if not any(frame.endswith("Runner.run") for frame in frames):
            continue  # another thread (a2wsgi's pool): the event loop is what streams
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    print(f"\nprofile {path} ({total} samples)\n  self%  function")
    for frame, samples in own.most_common(top):
        print(f"  {samples / total * 100:5.1f}  {frame}")
    print("  incl%  function")
    for frame, samples in inclusive.most_common(top + 15):
        print(f"  {samples / total * 100:5.1f}  {frame}")


def _frame(frame: str) -> str:
    # py-spy raw frames read `function (path/to/file.py:line)`
    function, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].split("site-packages/")[-1].split("/provider/")[-1]
    return f"{file}:{function}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", default="200", help="concurrent streams; a list (300,450,600) sweeps")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds over which the streams start")
    parser.add_argument("--contenders", default="local,sdk-chunks,httpx2,aiohttp,aiohttp-direct,flask-gevent")
    parser.add_argument("--profile", help="record this contender with py-spy after the rounds")
    parser.add_argument("--json", type=Path, help="write every run here")
    args = parser.parse_args()
    sizes = [int(size) for size in args.streams.split(",")]
    if not 1 <= args.rounds <= 20 or not all(1 <= size <= 2000 for size in sizes):
        parser.error("keep it bounded: 1-20 rounds, 1-2000 streams")
    os.sched_setaffinity(0, {LOAD_CORE})
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    simulator, sim_port = start_simulator()
    chosen = [contenders(sim_port)[name] for name in args.contenders.split(",")]
    servers: dict[str, Server] = {}
    results: dict[int, dict[str, list[Run]]] = {}
    try:
        for contender in chosen:
            servers[contender.name] = Server(contender)
            measure(servers[contender.name], simulator.pid, 50, 0.2)  # warm-up: imports, caches
        for size in sizes:
            concurrent = min(size, round(size * TOKENS * TOKEN_MS / 1000 / max(args.spread, 1e-9)))
            print(f"\n{size} streams x {TOKENS} tokens, {TOKEN_MS:g} ms apart, started over {args.spread:g} "
                  f"s (~{concurrent} at once); {args.rounds} interleaved rounds")  # fmt: skip
            runs = results[size] = {c.name: [] for c in chosen}
            for round_ in range(args.rounds):
                for contender in chosen:
                    run = measure(servers[contender.name], simulator.pid, size, args.spread)
                    runs[contender.name].append(run)
                    print(f"round {round_ + 1} {contender.name:<15} {_line(run)}", flush=True)
            report(runs)
        if args.profile:
            out = Path(tempfile.gettempdir()) / f"upstream-{args.profile}.txt"
            profile(servers[args.profile], simulator.pid, sizes[0], args.spread, out)
    finally:
        for server in servers.values():
            server.stop()
        simulator.terminate()
        simulator.wait(10)
    if args.json:
        record = {
            size: {k: [dataclasses.asdict(r) for r in v] for k, v in runs.items()}
            for size, runs in results.items()
        }
        args.json.write_text(json.dumps(record, indent=1))


def _line(run: Run) -> str:
    f = run.fidelity
    return (
        f"{run.cpu_us_per_token:7.1f} us/token  ttft p99 {run.ttft_p99_ms:6.1f} "
        f"gap p99 {run.gap_p99_ms:6.1f} ms  core1 {run.load_core_busy:4.2f}  opened {f.opened} "
        f"completed {f.completed} refused {f.refused} failed {f.failed} lost {f.lost_tokens} "
        f"dup {f.duplicated_tokens} events/tokens {f.events}/{f.tokens} {f.errors or ''}"
    )


def report(runs: dict[str, list[Run]]) -> None:
    """Medians (and the CPU's spread) of the clean runs; a contender with none gets no figure."""
    print(f"{'contender':<15} {'us/token med':>12} {'min-max':>13} {'ttft p99':>9} {'gap p99':>8} "
          f"{'SLO':>4} {'clean':>6} {'lost/dup/failed':>16} {'events/token':>12}")  # fmt: skip
    medians: dict[str, float] = {}
    for name, all_runs in runs.items():
        clean = [r for r in all_runs if r.fidelity.clean]
        lost = sum(r.fidelity.lost_tokens for r in all_runs)
        dup = sum(r.fidelity.duplicated_tokens for r in all_runs)
        failed = sum(r.fidelity.failed + r.fidelity.refused for r in all_runs)
        counts = f"{lost}/{dup}/{failed}"
        if not clean:
            print(f"{name:<15} {'(no clean run: no figure)':>45} {0:>3}/{len(all_runs)} {counts:>16}")
            continue
        cpu = [r.cpu_us_per_token for r in clean]
        medians[name] = statistics.median(cpu)
        ttft = statistics.median(r.ttft_p99_ms for r in clean)
        gap = statistics.median(r.gap_p99_ms for r in clean)
        slo = "yes" if ttft <= SLO_TTFT_MS and gap <= SLO_GAP_MS else "no"
        events = sum(r.fidelity.events for r in clean) / max(sum(r.fidelity.tokens for r in clean), 1)
        print(
            f"{name:<15} {medians[name]:>12.1f} {min(cpu):>6.1f}-{max(cpu):<6.1f} {ttft:>9.1f} {gap:>8.1f} "
            f"{slo:>4} {len(clean):>3}/{len(all_runs)} {counts:>16} {events:>12.3f}"
        )
    for name, value in medians.items():
        if name != "local" and "local" in medians:
            line = f"{name}: {value / medians['local']:.2f}x local"
            if "flask-gevent" in medians and name != "flask-gevent":
                line += f", {value / medians['flask-gevent']:.2f}x flask-gevent"
            print(line)


if __name__ == "__main__":
    main()
