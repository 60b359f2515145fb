"""Serving a Dash app under hybrid wherever it is mounted: `serve_dash(dash_app, ...)` is the ASGI app
`create_app` routes Dash's paths to.

Dash fixes `requests_pathname_prefix` (where the browser fetches its scripts, layout and callbacks) when
the app is constructed, but a hybrid app learns its mount path per request: from Starlette's `Mount`
(`outer.mount("/chat", hybrid.create_app())`), `uvicorn --root-path`, or both. a2wsgi hands that path to
Flask as `SCRIPT_NAME`, so the prefix is read from `flask.request.script_root` each time Dash asks for it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import quote

import flask
from a2wsgi import WSGIMiddleware
from dash import Dash
from dash._utils import AttributeDict

logger = logging.getLogger("hybrid.embed")

PREFIX = "requests_pathname_prefix"


class MountRelativeConfig(AttributeDict):
    """A Dash config whose `requests_pathname_prefix` starts with the mount path of the current request.

    The prefix is computed on every read from the Flask request of the calling thread (Flask keeps it in
    a context variable), and nothing is stored per request, so a2wsgi's threads can serve the same app
    at `/` and at `/chat/` at once. Outside a request (at start-up) the configured prefix is returned.
    """

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        if key == PREFIX and flask.has_request_context():
            # Percent-encoded: the prefix lands in HTML attributes and JSON, and a mount path with
            # parameters (`/{team}/chat`) carries text from the request.
            return quote(flask.request.script_root, safe="/") + value
        return value


def follow_mount(dash_app: Dash) -> None:
    """Make `dash_app`'s page, asset and callback URLs follow the mount path of each request.

    Apps that set `requests_pathname_prefix` apart from `routes_pathname_prefix` already describe a
    proxy in front of them; they are left as they are.
    """
    config = dash_app.config
    if isinstance(config, MountRelativeConfig):
        return
    if config[PREFIX] != config.routes_pathname_prefix:
        logger.info("%s is set explicitly: its URLs will not follow the mount path", PREFIX)
        return
    # The class of the existing object is swapped rather than the object replaced: Dash keeps aliases of
    # it (`dash._get_paths.CONFIG`, `dash._pages.CONFIG`) that must see the same prefix. (Its own
    # `__setattr__` would store `__class__` as a config key.)
    object.__setattr__(config, "__class__", MountRelativeConfig)


def check_backend(dash_app: Dash) -> None:
    """Refuse Dash apps that do not run on Flask, with the reason."""
    if isinstance(dash_app.server, flask.Flask):
        return
    kind = type(dash_app.server).__name__
    raise TypeError(
        f"hybrid serves Dash apps on the Flask backend (Dash(__name__)); this one runs on {kind}. "
        "Dash 4.4's native ASGI backends cannot be mounted under a path (their middleware compares the "
        "full path to the app's prefix, so every request fails with 'No active request in context'), "
        "and they run synchronous callbacks on the event loop, where they would stall every stream."
    )


def share_secret(dash_app: Dash, secret_key: str) -> None:
    """Give the Flask server a key derived from hybrid's, unless it has its own.

    Dash signs each page load with `server.secret_key` (background callbacks check it) and Flask signs
    its session cookie with it; without a shared key each worker would make up its own, and a page
    served by one worker would be refused by the next.
    """
    server = dash_app.server
    if not server.secret_key:
        server.secret_key = hmac.new(secret_key.encode(), b"hybrid.dash", hashlib.sha256).hexdigest()


def serve_dash(dash_app: Dash, *, secret_key: str, threads: int) -> WSGIMiddleware:
    """The ASGI app serving `dash_app` on `threads` a2wsgi threads, at any mount path."""
    check_backend(dash_app)
    follow_mount(dash_app)
    share_secret(dash_app, secret_key)
    return WSGIMiddleware(dash_app.server, workers=threads)
