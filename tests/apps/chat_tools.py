"""A Dash app whose Chats call tools, for the tool cards' browser tests (`tests/test_chat_tools.py`).

The model is the simulator's (`OPENAI_BASE_URL`, through the openai provider): the directives in a model
name choose what it calls (`MODELS`). `direct` has tools and no answer function, so it answers from the
provider (its first model) with them. `assistant`'s answer function picks the model by a keyword of the
question, and for `interleave` puts text and thinking before and after the tool round. `GET
/test/activity` says how often the slow tool started, was cancelled and ran its `finally`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from typing import Literal

import openai
from dash import Dash, Input, Output, State, dcc, html
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import hybrid
from hybrid._providers.openai.provider import OpenAIProvider
from hybrid._tools.tool import ToolContext

UNSAFE_NAME = '<img src=x onerror="window.__pwned = 1">'
UNSAFE_ARGUMENT = "<script>window.__pwned = 2</script>"
UNSAFE_RESULT = '<b>bold?</b><img src=x onerror="window.__pwned = 3">'
MODELS = {
    # show_only's arguments two characters a chunk, 60 ms apart, beside a short wait: the cards stream
    "filter": 'sim+tools=show_only,wait+tool_chunk_chars=2+token_ms=60+tool_args={"wait":{"seconds":0.3}}',
    "slow": "sim+tools=wait",  # the wait's default: 30 s
    "fail": "sim+tools=explode",
    "forever": "sim+tools=lookup+tool_rounds=99",
    "unsafe": f'sim+tools=echo,{UNSAFE_NAME}+tool_args={{"echo":{{"text":"{UNSAFE_ARGUMENT}"}}}}',
}
Region = Literal["Europe", "Asia", "Americas"]
activity = {"started": 0, "cancelled": 0, "finished": 0}


def show_only(region: Region, context: ToolContext) -> str:
    """Show only one region on the page."""
    context.set_props("region", {"value": region})
    return f"showing {region} (the page showed {context.values[0]})"


async def wait(seconds: float = 30) -> str:
    """A slow report."""
    activity["started"] += 1
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        activity["cancelled"] += 1
        raise
    finally:
        activity["finished"] += 1
    return f"waited {seconds:g} s"


def explode() -> str:
    """A tool with a bug."""
    raise RuntimeError("the tool broke")


def lookup(topic: str = "news") -> str:
    """Look something up."""
    return f"nothing new about {topic}"


def echo(text: str) -> str:
    """Echo text back, wrapped in HTML."""
    return UNSAFE_RESULT + text


app = Dash(__name__)
app.index_string = app.index_string.replace("<html>", '<html lang="en">', 1)  # as the docs advise
assistant = hybrid.Chat("assistant", context=[State("region", "value")])
direct = hybrid.Chat("direct", context=[State("region", "value")], history=False)
for tool in (show_only, wait, explode, lookup, echo):
    assistant.tool(tool)
direct.tool(show_only)


@assistant.answer
async def answer(messages: Sequence[hybrid.Message], region: str) -> AsyncIterator[hybrid.Part]:
    question = messages[-1].content
    if "interleave" in question:
        yield "Let me look. "
        yield hybrid.Reasoning("Which region? ")
        async for part in assistant.model(messages, model=MODELS["filter"]):
            yield part
        yield hybrid.Reasoning("Checked.")
        yield "All set."
        return
    keyword = next((word for word in MODELS if word in question), "filter")
    async for part in assistant.model(messages, model=MODELS[keyword]):
        yield part


app.layout = html.Div(
    [
        dcc.RadioItems(["Europe", "Asia", "Americas"], "Asia", id="region"),
        html.Div(id="echo"),
        html.Div([assistant, direct], style={"display": "flex"}),
    ]
)


@app.callback(Output("echo", "children"), Input("region", "value"))
def echo_region(region: str) -> str:
    return f"showing: {region}"


async def activity_route(request: Request) -> JSONResponse:
    return JSONResponse(activity)


client = openai.AsyncOpenAI(api_key="sim", base_url=os.environ.get("OPENAI_BASE_URL"))
server = hybrid.create_app(
    app,
    provider=OpenAIProvider(client, models=list(MODELS.values())),
    settings=hybrid.Settings.from_env(),
    routes=[Route("/test/activity", activity_route)],
)
