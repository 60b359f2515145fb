"""The ASGI app configured from the environment: `uvicorn hybrid.main:app` (and `python -m hybrid`).

As the server's entry point it also sets what belongs to the whole process: logging
(`HYBRID_LOG_FORMAT`, `HYBRID_LOG_LEVEL`), the thread switch interval and the garbage collector's view of
start-up objects. An app embedded with `create_app` in your own code leaves all three to you.
"""

import gc
import sys

from hybrid import logs
from hybrid.app import create_app
from hybrid.settings import Settings

settings = Settings.from_env()
logs.configure(settings)
# Dash callbacks run on a2wsgi threads; a short switch interval keeps them from holding the GIL for the
# default 5 ms while tokens wait to be written.
sys.setswitchinterval(settings.switch_interval_ms / 1000)
app = create_app(settings=settings)
# What start-up made (Dash, the SDK, the app) lives as long as the process: out of the collector's way,
# a full collection no longer walks it mid-stream (worst event-loop stall under 200 answers: 352 -> 136 ms).
gc.freeze()
