"""`python -m hybrid`: serve the chat with uvicorn, configured from the environment and options."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from hybrid.settings import Settings


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="python -m hybrid", description=__doc__)
    parser.add_argument("--host", default=settings.host, help="interface to bind (HOST)")
    parser.add_argument("--port", type=int, default=settings.port, help="port to listen on (PORT)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s:     %(name)s %(message)s")
    uvicorn.run(
        "hybrid.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


if __name__ == "__main__":
    main()
