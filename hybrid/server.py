"""What hybrid can learn of the server process that runs it, for checks made as the app is imported."""

from __future__ import annotations

import inspect
import sys
from typing import Any

Address = tuple[str, int | None] | str | int
"""Where a server listens: `(host, port)`, a Unix socket's path, or a file descriptor it was handed. (A
request's `scope["server"]` on a Unix socket is `(path, None)`.)"""


def uvicorn_config() -> Any:
    """The `uvicorn.Config` loading this app, found in the frames of the import, or None.

    uvicorn imports the app from `Config.load`, in every process it serves from (a worker, the
    `--reload` child, or the only one), so its config is up the call stack during that import.
    """
    return _up_the_stack("uvicorn.config")


def gunicorn_config() -> Any:
    """The `gunicorn.config.Config` of the gunicorn loading this app (in a worker, or in the arbiter with
    `--preload`), found in the frames of the import, or None.

    uvicorn's gunicorn worker makes its `uvicorn.Config` only after gunicorn imported the app, so under
    gunicorn the binding is gunicorn's: its worker, arbiter and application objects hold it as `cfg`.
    """
    return _up_the_stack("gunicorn.config")


def bound_addresses() -> list[Address] | None:
    """Where the uvicorn or gunicorn importing this app listens; None under another server."""
    uvicorn = uvicorn_config()
    if uvicorn is not None:
        if uvicorn.uds:
            return [uvicorn.uds]
        if uvicorn.fd is not None:
            return [uvicorn.fd]
        return [(uvicorn.host, uvicorn.port)]
    gunicorn = gunicorn_config()
    return None if gunicorn is None else list(gunicorn.address)


def _up_the_stack(module: str) -> Any:
    """The `Config` of `module` that a frame of the caller's call stack holds (as `self`, `config` or
    `self.cfg`), if the module was imported."""
    config_type = getattr(sys.modules.get(module), "Config", None)
    frame = sys._getframe(2) if config_type is not None else None
    while frame is not None:
        owner = frame.f_locals.get("self")
        # read statically: a frame's `self` may be anyone's object, whose attributes may run code
        held = inspect.getattr_static(owner, "cfg", None)
        for candidate in (owner, frame.f_locals.get("config"), held):
            if isinstance(candidate, config_type):  # type: ignore[arg-type]
                return candidate
        frame = frame.f_back
    return None
