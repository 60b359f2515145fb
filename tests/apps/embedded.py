"""hybrid inside a FastAPI service: the chat at `/chat` (and the same app again at `/team/chat`), the
bring-your-own Dash app of `examples/custom_stream.py` at `/tools`, behind the host's GZip, CORS and
cookie authentication. Every response names the worker process that sent it (`x-worker-pid`).
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import hybrid
from examples.custom_stream import server as custom_stream_app

HOST_ORIGIN = "https://host.example"


class CookieUser(AuthenticationBackend):
    """The host's authentication: the `user` cookie names the signed-in user."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.cookies.get("user")
        return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None


def signed_in_and_not_banned(request: Request) -> bool:
    if not request.user.is_authenticated:
        raise hybrid.ApiError(401, "unauthenticated", "sign in to chat")
    return request.user.display_name != "mallory"


class WorkerHeader:
    """Adds `x-worker-pid`, so a test sees which worker answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (b"x-worker-pid", str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_pid)


chat = hybrid.create_app(settings=hybrid.Settings.from_env(), authorize=signed_in_and_not_banned)

app = FastAPI()
app.add_middleware(AuthenticationMiddleware, backend=CookieUser())
app.add_middleware(
    CORSMiddleware, allow_origins=[HOST_ORIGIN], allow_methods=["POST"], allow_headers=["content-type"]
)
app.add_middleware(GZipMiddleware, minimum_size=100)
app.add_middleware(WorkerHeader)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


app.mount("/chat", chat)
app.mount("/team/chat", chat)
app.mount("/tools", custom_stream_app)
