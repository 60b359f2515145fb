"""`serve_dash`: the ASGI app that serves a Dash (Flask) app under hybrid, at any path.

Its scripts and assets are answered on the event loop, gzipped once (`DashFiles`); everything else runs
on a2wsgi's threads with one hand-off per request (`DashBridge`), gzipped when the client accepts it
(`GzipMiddleware`; an event stream never is).
"""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import Executor, ThreadPoolExecutor

import flask
from dash import Dash
from starlette.types import ASGIApp

from hybrid._dash.serving.bridge import DashBridge
from hybrid._dash.serving.files import DashFiles
from hybrid._dash.serving.mount import follow_mount
from hybrid._web.compression import GzipMiddleware
from hybrid._web.identity import user_of


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


def bridge_dash(dash_app: Dash, *, secret_key: str, executor: Executor) -> DashBridge:
    """The WSGI bridge running `dash_app` on the threads of `executor`, at any mount path."""
    check_backend(dash_app)
    follow_mount(dash_app)
    share_secret(dash_app, secret_key)
    return DashBridge(dash_app.server, executor)


def with_files(dash_app: Dash, bridged: ASGIApp) -> ASGIApp:
    """`bridged` (`dash_app` through its bridge) behind `dash_app`'s native files, its answers gzipped."""
    return DashFiles(GzipMiddleware(bridged), dash_app)


def serve_dash(dash_app: Dash, *, secret_key: str, threads: int) -> ASGIApp:
    """The ASGI app serving `dash_app`: its files natively, the rest through `bridge_dash` on `threads`
    threads of its own, gzipped."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="WSGI")
    return with_files(dash_app, bridge_dash(dash_app, secret_key=secret_key, executor=executor))


def signed_in_user() -> str | None:
    """The signed-in user of the Dash request being served (`HYBRID_USER_HEADER`), if there is one.

    a2wsgi hands Flask the ASGI scope, where `HybridApp` recorded the user it admitted.
    """
    if not flask.has_request_context():
        return None
    return user_of(flask.request.environ.get("asgi.scope", {}))
