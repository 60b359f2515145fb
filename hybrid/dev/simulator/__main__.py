"""`python -m hybrid.dev.simulator`: serve the simulated OpenAI API on a loopback port."""

from __future__ import annotations

import argparse

import uvicorn

from hybrid.dev.simulator.app import Simulator, hide_simulated_cuts
from hybrid.dev.simulator.scenario import Scenario


def main(argv: list[str] | None = None) -> None:
    defaults = Scenario()
    parser = argparse.ArgumentParser(
        prog="python -m hybrid.dev.simulator",
        description="An OpenAI-compatible chat server with configurable pace and faults. A request changes "
        "any option below with directives in its model name (`sim+status=429+retry_after=20`) or in "
        "the X-Sim header (`cut_after=5+tag=t1`).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--api-key", help="accept only this key (Bearer or api-key header); default: any")
    parser.add_argument("--ttft-ms", type=float, default=defaults.ttft_ms, help="time to first token")
    parser.add_argument("--token-ms", type=float, default=defaults.token_ms, help="time between chunks")
    parser.add_argument("--jitter-ms", type=float, default=defaults.jitter_ms, help="± random per chunk")
    parser.add_argument("--tokens", type=int, default=defaults.tokens, help="answer length in tokens")
    parser.add_argument("--tokens-per-chunk", type=int, default=defaults.tokens_per_chunk)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    scenario = Scenario(
        ttft_ms=args.ttft_ms,
        token_ms=args.token_ms,
        jitter_ms=args.jitter_ms,
        tokens=args.tokens,
        tokens_per_chunk=args.tokens_per_chunk,
    )
    hide_simulated_cuts()
    uvicorn.run(
        Simulator(scenario, api_key=args.api_key).app(),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
