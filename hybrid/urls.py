"""URLs as the browser reaches them under the app's mount path."""

from __future__ import annotations

from urllib.parse import quote


def mounted(root_path: str, path: str) -> str:
    """`path` (already a URL path) under the mount path `root_path`, which is percent-encoded.

    The mount path comes from the request (Starlette's `Mount`, `uvicorn --root-path`, a2wsgi's
    `SCRIPT_NAME`) decoded, and may hold URL syntax (`/team #1?x`); it lands in URLs, HTML attributes
    and JSON, so it is encoded once, here.
    """
    return quote(root_path, safe="/") + path
