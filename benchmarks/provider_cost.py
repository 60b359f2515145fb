"""Server CPU per token: the demo model vs the openai provider (raw + jiter) vs the SDK's parsed chunks.

    .venv/bin/python -m benchmarks.provider_cost [--runs 5] [--streams 50] [--token-ms 10]

The server (uvicorn, one process) runs pinned to core 0; the simulator and this load generator run on
core 1. Each run opens `--streams` chat streams at once and reads them to the end; the server's CPU
(utime + stime from /proc) divided by the tokens it streamed is its cost per token. The openai variants
read the same pace from `python -m hybrid.simulator`. Loopback only; bounded in runs, streams and time.
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
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from benchmarks import procstat
from hybrid.testing import free_port
from hybrid.tickets import TicketSigner

ROOT = Path(__file__).resolve().parent.parent
SERVER_CORE, LOAD_CORE = 0, 1
DEMO_TOKENS = 170  # about the length of the demo answer, so both sources stream alike
SECRET = "provider-cost-bench"  # the servers' HYBRID_SECRET_KEY: this script signs the chat tickets
SIGNER = TicketSigner(SECRET)


def cpu_seconds(pid: int) -> float:
    return procstat.sample([pid]).cpu_s


def start(argv: list[str], ready_url: str, env: dict[str, str], core: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", str(core), *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{argv} exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            httpx.get(ready_url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{argv} did not start")


async def one_stream(client: httpx.AsyncClient, url: str, model: str) -> int:
    """Read one answer to its end; the tokens the server reported streaming."""
    body = {"model": model, "messages": [{"role": "user", "content": "How much CPU does a token cost?"}]}
    tokens = 0
    async with client.stream("POST", url, json={"ticket": SIGNER.issue(body)}) as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "completion":
                tokens = json.loads(line[6:])["completion_tokens"]
            elif not line:
                event = ""
    return tokens


async def load(url: str, model: str, streams: int) -> int:
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return sum(await asyncio.gather(*(one_stream(client, url, model) for _ in range(streams))))


def measure(server: subprocess.Popen[bytes], url: str, model: str, streams: int) -> tuple[float, int, float]:
    """Server CPU seconds, tokens streamed, wall seconds for one run."""
    before, started = cpu_seconds(server.pid), time.monotonic()
    tokens = asyncio.run(load(url, model, streams))
    wall = time.monotonic() - started
    time.sleep(0.2)  # let the server finish closing connections inside the measured window
    return cpu_seconds(server.pid) - before, tokens, wall


def sdk_parsed_app() -> object:
    """The app with the openai provider reading answers through the SDK's parsed chunk objects.

    `uvicorn --factory benchmarks.provider_cost:sdk_parsed_app`; the baseline the raw path is compared to.
    """
    import openai

    from hybrid.app import create_app
    from hybrid.providers import ChatRequest, Completion, OpenAIProvider, Usage
    from hybrid.providers.openai import sdk_options
    from hybrid.settings import Settings

    class SdkParsedProvider(OpenAIProvider):
        async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:  # type: ignore[override]
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

    settings = Settings.from_env()
    options = sdk_options(connect_timeout=5, first_token_timeout=60, token_gap_timeout=30)
    client = openai.AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url, **options)
    return create_app(settings=settings, provider=SdkParsedProvider(client, models=settings.model_choices))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--token-ms", type=float, default=10.0)
    args = parser.parse_args()
    if not 1 <= args.runs <= 20 or not 1 <= args.streams <= 500:
        parser.error("keep it bounded: 1-20 runs, 1-500 streams")
    os.sched_setaffinity(0, {LOAD_CORE})

    sim_port = free_port()
    simulator = start(
        [sys.executable, "-m", "hybrid.simulator", "--port", str(sim_port), "--ttft-ms", "0",
         "--token-ms", str(args.token_ms), "--tokens", str(DEMO_TOKENS)],
        f"http://127.0.0.1:{sim_port}/v1/models", {}, LOAD_CORE,
    )  # fmt: skip
    common = {
        "HYBRID_LOG_LEVEL": "warning",
        "HYBRID_CLIENT_STREAMS": "0",
        "HYBRID_CLIENT_RATE_PER_MINUTE": "0",
        "HYBRID_SECRET_KEY": SECRET,
    }
    upstream = {
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{sim_port}/v1",
        "HYBRID_MODEL": "sim",
    }
    variants = {
        "demo model": (
            ["hybrid.main:app"],
            {"HYBRID_DEMO_TTFT_MS": "0", "HYBRID_DEMO_TOKEN_MS": str(args.token_ms)},
        ),
        "openai, raw + jiter": (["hybrid.main:app"], upstream),
        "openai, SDK chunks": (["--factory", "benchmarks.provider_cost:sdk_parsed_app"], upstream),
    }
    print(f"{args.streams} streams x ~{DEMO_TOKENS} tokens, one every {args.token_ms:g} ms; {args.runs} runs")
    print(f"{'source':<22} {'us CPU/token':>13} {'min':>7} {'max':>7} {'tokens/run':>11} {'wall s':>7}")
    try:
        for name, (app, env) in variants.items():
            port = free_port()
            server = start(
                [sys.executable, "-m", "uvicorn", *app, "--app-dir", str(ROOT), "--port", str(port),
                 "--log-level", "warning", "--no-access-log"],
                f"http://127.0.0.1:{port}/healthz", {**common, **env}, SERVER_CORE,
            )  # fmt: skip
            try:
                url, model = f"http://127.0.0.1:{port}/api/stream", env.get("HYBRID_MODEL", "demo")
                measure(server, url, model, args.streams)  # warm-up: connections, imports, caches
                runs = [measure(server, url, model, args.streams) for _ in range(args.runs)]
            finally:
                server.terminate()
                server.wait(10)
            per_token = [cpu / tokens * 1e6 for cpu, tokens, _ in runs]
            tokens = statistics.median(t for _, t, _ in runs)
            wall = statistics.median(w for *_, w in runs)
            low, middle, high = min(per_token), statistics.median(per_token), max(per_token)
            print(f"{name:<22} {middle:>13.1f} {low:>7.1f} {high:>7.1f} {tokens:>11.0f} {wall:>7.2f}")
    finally:
        simulator.terminate()
        simulator.wait(10)


if __name__ == "__main__":
    main()
