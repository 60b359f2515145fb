"""The one Dash app every contender serves: a page, its assets, a light callback and a CPU-heavy one."""

from __future__ import annotations

import time
from typing import Any

from dash import Dash, Input, Output, html

HEAVY_MS = 50.0
"""CPU the heavy callback burns per call (pure Python, holding the GIL as real work does)."""


def burn(ms: float) -> int:
    """Spin the CPU for `ms` milliseconds of this thread's CPU time."""
    end = time.thread_time() + ms / 1000
    spins = 0
    while time.thread_time() < end:
        spins += sum(range(200))
    return spins


def build_dash(**kwargs: Any) -> Dash:
    """The benchmark's Dash app; `kwargs` go to `Dash` (e.g. `backend="fastapi"`)."""
    app = Dash(__name__, title="bench", **kwargs)
    app.layout = html.Div(
        [
            html.Button("light", id="light-in"),
            html.Div(id="light-out"),
            html.Button("heavy", id="heavy-in"),
            html.Div(id="heavy-out"),
        ]
    )

    @app.callback(Output("light-out", "children"), Input("light-in", "n_clicks"))
    def light(clicks: int | None) -> str:
        return f"clicked {clicks or 0} times"

    @app.callback(Output("heavy-out", "children"), Input("heavy-in", "n_clicks"))
    def heavy(clicks: int | None) -> str:
        return f"burned {burn(HEAVY_MS)} after {clicks or 0} clicks"

    return app


def callback_body(name: str, clicks: int = 1) -> bytes:
    """The JSON body the Dash renderer posts to `/_dash-update-component` for callback `name`."""
    import json

    return json.dumps(
        {
            "output": f"{name}-out.children",
            "outputs": {"id": f"{name}-out", "property": "children"},
            "inputs": [{"id": f"{name}-in", "property": "n_clicks", "value": clicks}],
            "changedPropIds": [f"{name}-in.n_clicks"],
            "state": [],
        }
    ).encode()
