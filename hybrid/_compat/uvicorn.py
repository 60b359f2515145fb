"""uvicorn's `Config`, read while it imports the app. Checked against uvicorn 0.54 and 0.55.

uvicorn imports the app from `Config.load`, in every process it serves from (a worker, the `--reload`
child, or the only one), so its config is a frame's `self` up the call stack during that import. hybrid
reads its public attributes (`host`, `port`, `uds`, `fd`, `workers`, `should_reload`).
"""

from __future__ import annotations

from typing import Any

from hybrid._compat.stack import config_up_the_stack

CHECKED = ("0.54", "0.55")


def uvicorn_config() -> Any:
    """The `uvicorn.Config` loading this app, or None (another server, or not during the import)."""
    return config_up_the_stack("uvicorn.config", skip=1)
