"""A Dash app with a Chat whose sync tool hangs, for `tests/test_tool_threads.py`.

The demo model calls `hang` when a question names it; the tool blocks its thread for a minute, far past
its 0.3 s timeout. The layout is large enough (a table of a few hundred rows) that the server gzips it
off the event loop, on a thread, as it does every large Dash response.
"""

from __future__ import annotations

import time

from dash import Dash, html

import hybrid

TIMEOUT = 0.3

app = Dash(__name__)
assistant = hybrid.Chat("assistant", history=False)


@assistant.tool(timeout=TIMEOUT)
def hang() -> str:
    """A report that never comes back."""
    time.sleep(60)
    return "late"


app.layout = html.Div(
    [
        assistant,
        html.Table([html.Tr([html.Td(f"row {n}"), html.Td(n * n)]) for n in range(400)], id="table"),
    ]
)
server = hybrid.create_app(app, settings=hybrid.Settings.from_env())
