"""`serve_dash`: the ASGI app that serves a Dash (Flask) app under hybrid, on a2wsgi threads, at any path."""

from __future__ import annotations

import hashlib
import hmac

import flask
from a2wsgi import WSGIMiddleware
from dash import Dash

from hybrid.dash.mount import follow_mount
from hybrid.identity import user_of


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


def signed_in_user() -> str | None:
    """The signed-in user of the Dash request being served (`HYBRID_USER_HEADER`), if there is one.

    a2wsgi hands Flask the ASGI scope, where `HybridApp` recorded the user it admitted.
    """
    if not flask.has_request_context():
        return None
    return user_of(flask.request.environ.get("asgi.scope", {}))
