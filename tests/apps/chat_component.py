"""A Dash app with three `hybrid.Chat`s beside other components, for the component's browser tests.

`left` and `right` answer with the same function; the last message's keywords choose what it does:
`slow` (many tokens, 40 ms apart), `context` (the region as it was sent, after a pause), `think`
(reasoning first, then the answer), `set` (`SetProps` on the summary and the region), `unsafe` (HTML and
script in every kind of part), `model` (the server's provider through `chat.model`, with a system
prompt), `crash` (an exception), `refuse` (a `StreamError`). `scratch` keeps no history and answers from
the provider (no answer function). `notes` is context only `left` reads (for the size limit); the
`boom` button's callback raises (for Dash's dev tools). `inject` sets HTML on the `frame` iframe (refused).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from dash import Dash, Input, Output, State, dcc, html

import hybrid
from hybrid import Reasoning, SetProps, StreamError
from tests.apps.chat_scripted import UNSAFE, ScriptedProvider, recorded_route

INJECTED = "<p>Your session expired. Password: <input id=password></p>"
"""HTML an answer tries to put into the page (`inject`): refused, on the server and in the page."""
THOUGHTS = ["Let me think ", "about the **question** ", "step by step. ", "Done thinking."]
UNSAFE_TEXT = "".join(UNSAFE)

app = Dash(__name__)
left = hybrid.Chat("left", context=[State("region", "value"), State("notes", "value")])
right = hybrid.Chat("right", context=[State("region", "value")], theme="dark")
scratch = hybrid.Chat("scratch", history=False, examples=["Say hello"])


async def respond(
    messages: Sequence[hybrid.Message], region: str, chat: hybrid.Chat
) -> AsyncIterator[object]:
    question = messages[-1].content
    if "slow" in question:
        for index in range(60):
            yield f"{chat.chat_id} token {index} "
            await asyncio.sleep(0.04)
    elif "context" in question:
        await asyncio.sleep(0.5)
        yield f"the region was {region}"
    elif "think" in question:
        for thought in THOUGHTS:
            yield Reasoning(thought)
            await asyncio.sleep(0.25)
        for word in ("The ", "answer ", "after ", "thinking."):
            yield word
            await asyncio.sleep(0.02)
    elif "set" in question:
        yield "Changing the page. "
        yield SetProps("summary", {"children": f"Filtered to {region}"})
        yield SetProps("region", {"value": "US"})
        yield "Done."
    elif "inject" in question:
        yield "Injecting. "
        yield SetProps("frame", {"srcDoc": INJECTED})
    elif "unsafe" in question:
        yield Reasoning(UNSAFE_TEXT)
        yield SetProps("summary", {"children": '<img src=x onerror="window.__pwned = 5">'})
        yield UNSAFE_TEXT
    elif "model" in question:
        async for part in chat.model(messages, system=f"You explain sales data for {region}."):
            yield part
    elif "crash" in question:
        yield "partial "
        raise RuntimeError("internal detail that must not reach the page")
    elif "refuse" in question:
        yield "partial "
        raise StreamError("the data warehouse is offline", type="warehouse_offline")
    else:
        yield f"{chat.chat_id} answers: {question}"


@left.answer
async def answer_left(
    messages: Sequence[hybrid.Message], region: str, notes: str | None
) -> AsyncIterator[object]:
    async for part in respond(messages, region, left):
        yield part


@right.answer
async def answer_right(messages: Sequence[hybrid.Message], region: str) -> AsyncIterator[object]:
    async for part in respond(messages, region, right):
        yield part


app.layout = html.Div(
    [
        dcc.RadioItems(["EU", "US", "APAC"], "EU", id="region"),
        dcc.Textarea(id="notes", value=""),
        html.Div("No filter yet", id="summary"),
        html.Div(id="echo"),
        html.Button("Break a callback", id="boom"),
        html.Div(id="boom-out"),
        html.Div([left, right], style={"display": "flex"}),
        scratch,
        html.Iframe(id="frame", style={"height": "2rem"}),
    ]
)


@app.callback(Output("echo", "children"), Input("region", "value"))
def echo(region: str) -> str:
    return f"echo: {region}"


@app.callback(Output("boom-out", "children"), Input("boom", "n_clicks"), prevent_initial_call=True)
def boom(clicks: int) -> str:
    """A developer's bug: with HYBRID_DEBUG, Dash's dev tools show it in the page."""
    return str(clicks / 0)


provider = ScriptedProvider()
server = hybrid.create_app(
    app, provider=provider, settings=hybrid.Settings.from_env(), routes=[recorded_route(provider)]
)
