"""gunicorn's `Config`, read while it imports the app. Checked against gunicorn 23 to 27.

uvicorn's gunicorn worker makes its `uvicorn.Config` only after gunicorn imported the app, so under
gunicorn the binding is gunicorn's: its worker, arbiter and application objects hold it as `cfg`, and one
of them is up the call stack during the import (in a worker, or in the arbiter with `--preload`).
"""

from __future__ import annotations

import sys
from typing import Any

from hybrid._compat.stack import config_up_the_stack

CHECKED = ("23", "27")


def gunicorn_config() -> Any:
    """The `gunicorn.config.Config` of the gunicorn loading this app, or None."""
    return config_up_the_stack("gunicorn.config", skip=1)


def in_gunicorn_worker() -> bool:
    """Whether this process is a gunicorn worker (gunicorn imported its worker classes)."""
    return "gunicorn.workers.base" in sys.modules
