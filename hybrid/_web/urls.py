"""URLs as the browser reaches them under the app's mount path."""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import Scope


def mounted(root_path: str, path: str) -> str:
    """`path` (already a URL path) under the mount path `root_path`, which is percent-encoded.

    The mount path comes from the request (Starlette's `Mount`, `uvicorn --root-path`, a2wsgi's
    `SCRIPT_NAME`) decoded, and may hold URL syntax (`/team #1?x`); it lands in URLs, HTML attributes
    and JSON, so it is encoded once, here.
    """
    return quote(root_path, safe="/") + path


def route_path(scope: Scope) -> str:
    """The request's path below the mount path, as a2wsgi gives Flask its `PATH_INFO`.

    Starlette keeps the full path in `path`; its own `get_route_path` is private (`starlette._utils`), so
    this follows it: a root path counts only up to a `/`.
    """
    path, root = scope["path"], scope.get("root_path", "")
    if not root or not path.startswith(root) or path[len(root) : len(root) + 1] not in ("/", ""):
        return path
    return path[len(root) :]
