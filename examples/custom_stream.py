"""Your own Dash app with a second streaming feature: the model explains the chart, token by token.

Run `uvicorn examples.custom_stream:app` and open http://127.0.0.1:8000.

Uses the model configured by the environment (the demo model without keys; see the README's Providers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from dash_extensions import SSE
from starlette.requests import Request
from starlette.routing import Route

import hybrid
from hybrid import stream_on
from hybrid.chat import read_json
from hybrid.providers.base import ChatRequest, Message
from hybrid.providers.select import provider_from_settings

settings = hybrid.Settings.from_env()
provider = provider_from_settings(settings)

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
SALES = [120, 135, 128, 160, 190, 240]


async def explain(request: Request) -> AsyncIterator[str]:
    """`POST /api/explain`: the model's explanation of the chart the page posted."""
    body = await read_json(request)  # a malformed body answers 4xx JSON before anything streams
    title, points = (body.get("title"), body.get("points")) if isinstance(body, dict) else (None, None)
    if not isinstance(title, str) or not isinstance(points, dict):
        raise hybrid.ApiError(400, "invalid_request", "send a `title` string and a `points` object")
    data = ", ".join(f"{x}: {y}" for x, y in points.items())
    question = f"Explain the chart '{title}' in three sentences. Data: {data}"
    # The prompt is composed here, on the server: the page only chooses which chart to explain.
    return provider.reply(ChatRequest([Message("user", question)], model=provider.models[0]))


dash_app = Dash(__name__, title="Sales")
dash_app.layout = html.Div(
    [
        dcc.Graph(id="chart", figure=go.Figure(go.Bar(x=MONTHS, y=SALES), layout={"title": "Monthly sales"})),
        html.Button("Explain this chart", id="explain"),
        SSE(id="explain-stream", concat=True),
        # Plain text, not dcc.Markdown: model output is untrusted and Markdown keeps `javascript:` links.
        html.Div(id="explanation", style={"whiteSpace": "pre-wrap"}),
    ]
)


@stream_on(
    dash_app,
    "explain-stream",
    "/api/explain",
    Input("explain", "n_clicks"),
    State("chart", "figure"),
    into=Output("explanation", "children"),
)
def explain_request(n_clicks: int | None, figure: dict) -> dict | None:
    """The JSON body posted to `/api/explain` when the button is clicked."""
    if not n_clicks:
        return None
    bars = figure["data"][0]
    return {
        "title": figure["layout"]["title"]["text"],
        "points": dict(zip(bars["x"], bars["y"], strict=True)),
    }


app = hybrid.create_app(
    dash_app,
    routes=[Route("/api/explain", hybrid.stream_endpoint(explain), methods=["POST"])],
    settings=settings,
    provider=provider,
)
