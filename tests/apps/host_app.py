"""A host's own app on hybrid: a Chat page that says who is signed in (`hybrid.signed_in_user`), a
websocket route of the host's (`/ws/whoami`, which names the user it was opened by), and an authorize hook
that lets every stream through (so a server on a public address has a guard of the host's)."""

from __future__ import annotations

from dash import Dash, html
from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

import hybrid
from hybrid._web.identity import user_of

app = Dash(__name__)
assistant = hybrid.Chat("assistant")


def layout() -> html.Div:
    return html.Div([html.P(f"Signed in as {hybrid.signed_in_user()}", id="who"), assistant])


app.layout = layout


async def whoami(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {user_of(websocket.scope)}")
    await websocket.close()


def everyone(request: Request) -> bool:
    return True


routes = [WebSocketRoute("/ws/whoami", whoami)]
server = hybrid.create_app(app, settings=hybrid.Settings.from_env(), routes=routes, authorize=everyone)
