"""A Dash Pages app with Chats wherever Dash may mount them, for `tests/test_chat_places.py`.

`/` holds tabs: `first` on the default tab, `second` on another, and a button whose callback adds
`added` (the validation layout names it, so `create_app` finds it). `/other` is a second page holding
`paged`. Every Chat answers `<id> answers: <question>`; a question with `slow` gets 40 numbered tokens,
50 ms apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import dash
from dash import Dash, Input, Output, dcc, html

import hybrid

SLOW_TOKENS = 40

app = Dash(__name__, use_pages=True, pages_folder="")
first = hybrid.Chat("first")
second = hybrid.Chat("second")
paged = hybrid.Chat("paged")
added = hybrid.Chat("added")


def answers(chat: hybrid.Chat) -> None:
    @chat.answer
    async def answer(messages: Sequence[hybrid.Message]) -> AsyncIterator[str]:
        question = messages[-1].content
        if "slow" in question:
            for index in range(SLOW_TOKENS):
                yield f"{chat.chat_id} token {index} "
                await asyncio.sleep(0.05)
        else:
            yield f"{chat.chat_id} answers: {question}"


for each in (first, second, paged, added):
    answers(each)

home = html.Div(
    [
        dcc.Tabs(
            id="tabs",
            value="first-tab",
            children=[
                dcc.Tab(first, label="First", value="first-tab"),
                dcc.Tab(second, label="Second", value="second-tab"),
                dcc.Tab(html.Div("No chat here", id="plain"), label="Plain", value="plain-tab"),
            ],
        ),
        html.Button("Add a chat", id="add"),
        html.Div(id="slot"),
    ]
)
other = html.Div([html.H2("The other page"), paged])
dash.register_page("home", path="/", layout=home)
dash.register_page("other", path="/other", layout=other)

app.layout = html.Div(
    [
        dcc.Link("Home", href="/", id="to-home"),
        dcc.Link("Other", href="/other", id="to-other"),
        dash.page_container,
    ]
)
app.validation_layout = html.Div([app.layout, home, other, added])


@app.callback(Output("slot", "children"), Input("add", "n_clicks"), prevent_initial_call=True)
def add(clicks: int) -> hybrid.Chat:
    return added


server = hybrid.create_app(app, settings=hybrid.Settings.from_env())
