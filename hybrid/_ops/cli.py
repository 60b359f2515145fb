"""`python -m hybrid`: serve the chat with uvicorn, configured from the environment and options."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile

import uvicorn

from hybrid._errors import ConfigurationError
from hybrid._ops import logs
from hybrid._providers.select import provider_from_settings
from hybrid._settings import LOG_FORMATS, LOG_LEVELS, PROVIDERS, Settings, SettingsError

OVERRIDES = {
    "provider": "HYBRID_PROVIDER",
    "model": "HYBRID_MODEL",
    "log_level": "HYBRID_LOG_LEVEL",
    "log_format": "HYBRID_LOG_FORMAT",
}
"""Options that set an environment variable: the workers read their settings from the environment."""
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hybrid", description=__doc__)
    parser.add_argument("--host", help="interface to bind (HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (PORT)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--provider", choices=PROVIDERS[1:], help="where answers come from (HYBRID_PROVIDER)")
    parser.add_argument("--model", help="the model, or Azure deployment, to answer with (HYBRID_MODEL)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="level of hybrid's logs (HYBRID_LOG_LEVEL)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="text or JSON lines (HYBRID_LOG_FORMAT)")
    args = parser.parse_args(argv)
    for option, variable in OVERRIDES.items():
        if getattr(args, option) is not None:
            os.environ[variable] = getattr(args, option)
    try:
        settings = Settings.from_env()
        check_before_start(settings, workers=args.workers)
    except SettingsError as exc:
        parser.error(str(exc))
    except ConfigurationError as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    metrics_dir = None
    if args.workers > 1 and MULTIPROC_DIR not in os.environ:
        # Each worker counts in files of its own there, and /metrics adds them up (see hybrid._ops.metrics).
        metrics_dir = os.environ[MULTIPROC_DIR] = tempfile.mkdtemp(prefix="hybrid-metrics-")
    try:
        uvicorn.run(
            "hybrid.main:app",
            host=settings.host if args.host is None else args.host,
            port=settings.port if args.port is None else args.port,
            workers=args.workers,
            log_level=settings.log_level,
            log_config=logs.dict_config(settings),
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def check_before_start(settings: Settings, *, workers: int) -> None:
    """What would stop every worker from starting, checked once before any starts (each worker would
    otherwise fail the same way): a `ConfigurationError` says what is wrong."""
    if workers > 1 and not settings.secret_key:
        raise SettingsError(
            "HYBRID_SECRET_KEY must be set to run several workers: each would sign chat tickets with its "
            "own random key and reject the others'"
        )
    asyncio.run(provider_from_settings(settings).aclose())  # the provider's settings, not its server
    if settings.redis_url:
        from hybrid._stores.redis.connection import check_reachable

        check_reachable(settings.redis_url)
