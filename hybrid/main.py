"""The ASGI app configured from the environment: `uvicorn hybrid.main:app` (and `python -m hybrid`).

As the server's entry point it also sets what belongs to the whole process: logging
(`HYBRID_LOG_FORMAT`, `HYBRID_LOG_LEVEL`), the thread switch interval and the garbage collector's view of
start-up objects. An app embedded with `create_app` in your own code leaves all three to you.

A worker that cannot start (a bad setting, an unreachable `HYBRID_REDIS_URL`) says why in one line and
exits with `WORKER_BOOT_ERROR`, not a traceback.
"""

import gc
import logging
import sys
from typing import NoReturn

from hybrid._app import create_app
from hybrid._errors import ConfigurationError
from hybrid._ops.process import configure_process
from hybrid._settings import Settings

WORKER_BOOT_ERROR = 3
"""The exit status gunicorn (and uvicorn 0.54's supervisor) take to mean "this worker cannot boot": they
stop the server instead of starting the worker again and again."""


def _refuse(reason: Exception) -> NoReturn:
    logging.getLogger("hybrid").critical("%s", reason)  # before `logs.configure`: Python's plain stderr
    sys.exit(WORKER_BOOT_ERROR)


try:
    settings = Settings.from_env()
except ConfigurationError as exc:
    _refuse(exc)
configure_process(settings)
try:
    app = create_app(settings=settings)
except ConfigurationError as exc:
    _refuse(exc)
# What start-up made (Dash, the SDK, the app) lives as long as the process: out of the collector's way,
# a full collection no longer walks it mid-stream (worst event-loop stall under 200 answers: 352 -> 136 ms).
gc.freeze()
