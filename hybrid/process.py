"""What a server's entry point sets for the whole process, once: `hybrid.main` calls it, and so may yours.

`create_app` changes nothing process-wide (an embedded app leaves logging and the interpreter to its
host); `configure_process` is hybrid's choice for a process that serves hybrid.
"""

from __future__ import annotations

import sys

from hybrid import logs
from hybrid.settings import Settings


def configure_process(settings: Settings) -> None:
    """Logging (`HYBRID_LOG_FORMAT`, `HYBRID_LOG_LEVEL`) and the thread switch interval
    (`HYBRID_SWITCH_INTERVAL_MS`).

    Dash callbacks run on a2wsgi threads; a short switch interval keeps one from holding the GIL for the
    default 5 ms while tokens wait to be written (token-gap p99 under CPU-heavy callbacks, S5 of the
    benchmarks, same machine: 46-49 ms at 5 ms, 25-26 ms at 1 ms).
    """
    logs.configure(settings)
    sys.setswitchinterval(settings.switch_interval_ms / 1000)
