"""A hybrid app whose stream route answers with tools: an answer function running the tool loop.

`POST /tools/stream` takes `{"model", "messages", "context", "max_rounds"}` (a test app: the client picks
the model, so a test can give the simulator its directives) and streams the answer of the app's provider
(the simulator through the openai provider, or the demo model) with the tools below, each part as
`hybrid.to_event` writes it. `GET /tools/finished` tells when each slow tool's `finally` ran, by the id
the request's context gave it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Literal

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import hybrid
from hybrid import Event
from hybrid._tools.loop import answer_with_tools
from hybrid._tools.tool import Tool, ToolContext
from hybrid._tools.toolbox import Toolbox

Region = Literal["Europe", "Asia", "Americas"]
SALES: dict[str, list[tuple[str, int]]] = {
    "Europe": [("Bikes", 940), ("Helmets", 610), ("Lights", 480), ("Locks", 300)],
    "Asia": [("Scooters", 1200), ("Bikes", 700), ("Bells", 90)],
    "Americas": [("Trailers", 520), ("Bikes", 510)],
}
TOOL_TIMEOUT = 1.0
finished: dict[str, float] = {}
"""Wall-clock time at which each `wait` call's `finally` ran, by the id in the request's context."""


def show_only(region: Region, context: ToolContext) -> str:
    """Show only one region on the dashboard."""
    context.set_props("region", {"value": region})
    return f"the dashboard shows {region}"


def top_products(n: int, context: ToolContext, region: Region | None = None) -> list[dict[str, object]]:
    """The n best-selling products of a region (by default, the one on screen)."""
    shown = region or context.values[0]
    return [{"product": name, "units": units} for name, units in SALES[shown][:n]]


async def wait(seconds: float, context: ToolContext) -> str:
    """Wait for a while (a slow report)."""
    try:
        await asyncio.sleep(seconds)
        return f"waited {seconds:g} s"
    finally:
        finished[str(context.values[1])] = time.time()


def explode(reason: str = "boom") -> str:
    """A tool with a bug."""
    raise RuntimeError(f"the tool broke: {reason}")


TOOLS = Toolbox(
    [
        Tool.from_function(show_only),
        Tool.from_function(top_products),
        Tool.from_function(wait, timeout=TOOL_TIMEOUT),
        Tool.from_function(explode),
    ]
)


async def tools_stream(request: Request) -> AsyncIterator[str | Event]:
    """The answer function: the loop on its own messages, its parts as SSE items."""
    body = await request.json()
    messages = [hybrid.Message(m["role"], m["content"]) for m in body["messages"]]
    chat = hybrid.ChatRequest(messages, model=body["model"])
    context = ToolContext(values=tuple(body.get("context", ["Europe", ""])))
    rounds = []
    parts = answer_with_tools(
        request.app.provider,
        chat,
        TOOLS,
        context,
        max_rounds=body.get("max_rounds", 3),
        on_completion=rounds.append,
    )
    async for part in parts:
        yield hybrid.to_event(part)
    yield Event("rounds", [completion.finish_reason for completion in rounds])


async def finished_tools(request: Request) -> JSONResponse:
    return JSONResponse(finished)


app = hybrid.create_app(
    routes=[
        Route("/tools/stream", hybrid.stream_endpoint(tools_stream), methods=["POST"]),
        Route("/tools/finished", finished_tools, methods=["GET"]),
    ],
    settings=hybrid.Settings.from_env(),
)
