"""`hybrid.main`'s app with one route more, `GET /_tasks`: the pid of the worker that answers and the tasks
of its event loop (the request's own included) by coroutine, so a soak can count what its answers left
behind."""

from __future__ import annotations

import asyncio
import os

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import hybrid


async def tasks(request: Request) -> JSONResponse:
    names = sorted(getattr(task.get_coro(), "__qualname__", "?") for task in asyncio.all_tasks())
    return JSONResponse({"pid": os.getpid(), "tasks": names})


app = hybrid.create_app(routes=[Route("/_tasks", tasks)])
