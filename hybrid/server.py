"""What hybrid can learn of the server process that runs it, for checks made as the app is imported."""

from __future__ import annotations

import sys
from typing import Any


def uvicorn_config() -> Any:
    """The `uvicorn.Config` loading this app, found in the frames of the import, or None.

    uvicorn imports the app from `Config.load`, in every process it serves from (a worker, the
    `--reload` child, or the only one), so its config is up the call stack during that import.
    """
    config_type = getattr(sys.modules.get("uvicorn.config"), "Config", None)
    frame = sys._getframe(1) if config_type is not None else None
    while frame is not None:
        for name in ("self", "config"):
            candidate = frame.f_locals.get(name)
            if isinstance(candidate, config_type):  # type: ignore[arg-type]
                return candidate
        frame = frame.f_back
    return None
