"""Your own Dash app with a second streaming feature: the model explains the chart, token by token.

    pip install -e '.[examples]'    # in a checkout of hybrid: what the examples import (pandas, FastAPI)
    uvicorn examples.custom_stream:server --port 8050

then open http://127.0.0.1:8050 and press "Explain this chart".

Uses the model configured by the environment (the demo model without keys; see the docs' Providers page).
Safe to copy as it is: the page only names a chart the server knows, so no text from the browser reaches
the model, and each client may start a few explanations a minute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from dash_extensions import SSE
from starlette.requests import Request
from starlette.routing import Route

import hybrid

settings = hybrid.Settings.from_env()
provider = hybrid.provider_from_settings(settings)

CHARTS = {
    "monthly-sales": {
        "title": "Monthly sales",
        "points": {"Jan": 120, "Feb": 135, "Mar": 128, "Apr": 160, "May": 190, "Jun": 240},
    },
}
"""The charts of the page, kept on the server: the prompt is made from these, never from the request."""


async def explain(request: Request) -> AsyncIterator[str]:
    """`POST /api/explain` with `{"chart": name}`: the model's explanation of that chart."""
    body = await hybrid.read_json(request)  # a malformed body answers 4xx JSON before anything streams
    chart = CHARTS.get(body.get("chart")) if isinstance(body, dict) else None
    if chart is None:
        raise hybrid.ApiError(400, "invalid_request", f"`chart` must be one of {', '.join(CHARTS)}")
    data = ", ".join(f"{x}: {y}" for x, y in chart["points"].items())
    question = f"Explain the chart '{chart['title']}' in three sentences. Data: {data}"
    return provider.reply(
        hybrid.ChatRequest([hybrid.Message("user", question)], model=provider.models[0], max_tokens=300)
    )


def figure(name: str) -> go.Figure:
    chart = CHARTS[name]
    points = chart["points"]
    return go.Figure(go.Bar(x=list(points), y=list(points.values())), layout={"title": chart["title"]})


app = Dash(__name__, title="Sales")
app.layout = html.Div(
    [
        dcc.Graph(id="chart", figure=figure("monthly-sales")),
        html.Button("Explain this chart", id="explain"),
        SSE(id="explain-stream", concat=True),
        # Plain text, not dcc.Markdown: model output is untrusted and Markdown keeps `javascript:` links.
        html.Div(id="explanation", style={"whiteSpace": "pre-wrap"}),
    ]
)


@hybrid.stream_on(
    app,
    "explain-stream",
    "/api/explain",
    Input("explain", "n_clicks"),
    into=Output("explanation", "children"),
)
def explain_request(n_clicks: int | None) -> dict | None:
    """The JSON body posted to `/api/explain` when the button is clicked: which chart, nothing more."""
    return {"chart": "monthly-sales"} if n_clicks else None


server = hybrid.create_app(
    app,
    routes=[
        Route(
            "/api/explain",
            hybrid.stream_endpoint(
                explain, limiter=hybrid.ClientLimiter(per_minute=6, burst=2, concurrent=1)
            ),
            methods=["POST"],
        )
    ],
    settings=settings,
    provider=provider,
)
