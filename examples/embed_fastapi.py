"""hybrid's chat inside a FastAPI service you already run, at `/chat`, behind the service's own middleware.

    pip install -e '.[examples]'    # in a checkout of hybrid: what the examples import (pandas, FastAPI)
    HYBRID_SECRET_KEY=change-me uvicorn examples.embed_fastapi:server --port 8050 --workers 2

then sign in at http://127.0.0.1:8050/login?user=ada and chat at http://127.0.0.1:8050/chat/. The workers
share the key that signs each question's ticket, so any of them streams any answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse

import hybrid

# The chat needs no mount-path setting: its pages, assets and stream URL follow wherever it is mounted.
chat = hybrid.create_app(
    settings=hybrid.Settings.from_env(),
    # Each stream request must come from a signed-in user (here a cookie; use your real session).
    authorize=lambda request: bool(request.cookies.get("user")),
)


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Starlette does not run a mounted app's lifespan; entering it ends open streams with a notice and
    # closes the model's connections on shutdown.
    async with chat.router.lifespan_context(chat):
        yield


server = FastAPI(lifespan=lifespan)
# GZip for the service's JSON and Dash's page; it leaves `text/event-stream` alone, so tokens still
# arrive one by one.
server.add_middleware(GZipMiddleware, minimum_size=500)


@server.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@server.get("/login")
def login(user: str) -> RedirectResponse:
    response = RedirectResponse("/chat/")
    response.set_cookie("user", user, httponly=True, samesite="lax")
    return response


server.mount("/chat", chat)
