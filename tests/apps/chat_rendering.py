"""A Dash app for `tests/test_chat_rendering.py`: a Chat whose answer asks the model twice with a tool.

The model is the demo (no keys): a question naming `lookup` makes it call the tool, and each time its
call id is `call_demo_0`, so one answer holds two calls with the same id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from dash import Dash, html

import hybrid

app = Dash(__name__)
twice = hybrid.Chat("twice")


@twice.tool
def lookup(topic: str = "news") -> str:
    """Look something up."""
    return f"nothing new about {topic}"


@twice.answer
async def answer(messages: Sequence[hybrid.Message]) -> AsyncIterator[hybrid.Part]:
    for _ in range(2):
        async for part in twice.model(messages):
            yield part


app.layout = html.Div([twice])
server = hybrid.create_app(app, settings=hybrid.Settings.from_env())
