"""The Dash app `wsgi_threads.py` measures: one I/O-bound and one CPU-bound callback, served by hybrid."""

from __future__ import annotations

import time

from dash import Dash, Input, Output, dcc, html

import hybrid

dash_app = Dash(__name__)
dash_app.layout = html.Div(
    [dcc.Input(id=f"{name}-in") for name in ("wait", "compute")]
    + [html.Div(id=f"{name}-out") for name in ("wait", "compute")]
)


@dash_app.callback(Output("wait-out", "children"), Input("wait-in", "value"))
def wait(value: str | None) -> str:
    time.sleep(0.02)
    return f"waited for {value}"


@dash_app.callback(Output("compute-out", "children"), Input("compute-in", "value"))
def compute(value: str | None) -> str:
    deadline = time.thread_time() + 0.005
    while time.thread_time() < deadline:
        pass
    return f"computed {value}"


app = hybrid.create_app(dash_app, settings=hybrid.Settings.from_env())
