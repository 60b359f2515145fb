"""Finding a server's `Config` object in the frames of the code importing the app.

Neither uvicorn nor gunicorn tells the app it loads where it listens or how many workers it runs; both
hold that in a `Config` object that is a local of a frame up the call stack while the app is imported.
Reading frames (`sys._getframe`) is CPython's own API for this; what it finds is the server's private
state, which is why the lookups live here (see `uvicorn.py`, `gunicorn.py`).
"""

from __future__ import annotations

import inspect
import sys
from types import FrameType
from typing import Any


def config_up_the_stack(module: str, *, skip: int = 1) -> Any:
    """The `Config` of `module` (`uvicorn.config`, `gunicorn.config`) held by a frame of the caller's
    call stack (as `self`, `config` or `self.cfg`), if that module was imported; else None.

    `skip` frames above this one are passed over (the lookups' own).
    """
    config_type = getattr(sys.modules.get(module), "Config", None)
    if config_type is None:
        return None
    frame: FrameType | None = sys._getframe(skip + 1)
    while frame is not None:
        owner = frame.f_locals.get("self")
        # read statically: a frame's `self` may be anyone's object, whose attributes may run code
        held = inspect.getattr_static(owner, "cfg", None)
        for candidate in (owner, frame.f_locals.get("config"), held):
            if isinstance(candidate, config_type):
                return candidate
        frame = frame.f_back
    return None
