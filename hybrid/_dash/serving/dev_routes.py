"""`DevRoutesClosed`: Dash's development routes answer 404 when the dev tools are off.

Dash registers `/_reload-hash` whatever its settings; it tells anyone who asks which packages and files
the app serves and when they last changed. Only hot reload (`HYBRID_DEBUG`) needs it.
"""

from __future__ import annotations

from dash import Dash
from starlette.types import ASGIApp, Receive, Scope, Send

from hybrid._errors import error_response
from hybrid._web.urls import route_path

DEV_ROUTES = ("_reload-hash",)


class DevRoutesClosed:
    """Answers 404 JSON for `dash_app`'s development routes, and hands every other request to `app`."""

    def __init__(self, app: ASGIApp, dash_app: Dash) -> None:
        self.app = app
        prefix = dash_app.config.routes_pathname_prefix
        self.closed = frozenset(prefix + route for route in DEV_ROUTES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope) in self.closed:
            await error_response(404, "not_found", "no such page")(scope, receive, send)
            return
        await self.app(scope, receive, send)
