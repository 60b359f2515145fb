"""The process that serves hybrid: what its entry point sets once, and what it must know of its workers.

`create_app` changes nothing process-wide (an embedded app leaves logging and the interpreter to its
host); `configure_process` is hybrid's choice for a process that serves hybrid: `hybrid.main` calls it,
and so may yours. `secret_key` refuses a random key where several workers would each make their own.
"""

from __future__ import annotations

import logging
import multiprocessing
import secrets
import sys

from hybrid._compat.gunicorn import in_gunicorn_worker
from hybrid._compat.uvicorn import uvicorn_config
from hybrid._ops import logs
from hybrid._settings import Settings, SettingsError

logger = logging.getLogger("hybrid.tickets")


def configure_process(settings: Settings) -> None:
    """Logging (`HYBRID_LOG_FORMAT`, `HYBRID_LOG_LEVEL`) and the thread switch interval
    (`HYBRID_SWITCH_INTERVAL_MS`).

    Dash callbacks run on a2wsgi threads; a short switch interval keeps one from holding the GIL for the
    default 5 ms while tokens wait to be written (token-gap p99 under CPU-heavy callbacks, S5 of the
    benchmarks, same machine: 46-49 ms at 5 ms, 25-26 ms at 1 ms).
    """
    logs.configure(settings)
    sys.setswitchinterval(settings.switch_interval_ms / 1000)


def secret_key(configured: str) -> str:
    """The configured key, or a random one for this process when there is a single worker."""
    if configured:
        return configured
    if _several_workers():
        raise SettingsError(
            "HYBRID_SECRET_KEY must be set when the app runs in several worker processes: "
            "each worker would otherwise sign with its own random key and reject the others' tickets"
        )
    logger.warning(
        "HYBRID_SECRET_KEY is not set: using a random key for this process; "
        "set it to run several workers or hosts"
    )
    return secrets.token_urlsafe(32)


def _several_workers() -> bool:
    """True in a worker of gunicorn or of `uvicorn --workers N`; False in uvicorn's `--reload` child.

    uvicorn starts the app in a spawned child process both for its workers and for `--reload`; only the
    server's config, up the call stack that is importing the app, tells the two apart. A child process
    of any other server counts as one of several workers: refusing to start is the safe guess.
    """
    if in_gunicorn_worker():
        return True
    if multiprocessing.parent_process() is None:
        return False
    config = uvicorn_config()
    return config is None or (not config.should_reload and config.workers > 1)
