"""Wiring dash-extensions' `SSE` component to a hybrid stream route, from the Dash side.

A second streaming feature (say, a streamed explanation of a chart) is a `stream_endpoint` route passed to
`create_app(routes=...)`, an `SSE(id=..., concat=True)` in the layout, and one decorated function that
says what to post::

    @stream_on(app, "explain-sse", "/api/explain", Input("explain", "n_clicks"), State("chart", "figure"),
               into=Output("explanation", "children"))
    def explain_request(n_clicks, figure):
        return {"title": figure["layout"]["title"]["text"]}  # the JSON body; None: do not start

URLs are relative to where the app is mounted, whatever the mount path of the page's request was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from dash import Dash, Input, Output, State
from dash.exceptions import PreventUpdate

from hybrid._dash.serving.mount import route_url

BodyFunc = Callable[..., Any]


def sse_request(
    path: str, body: Any, *, headers: Mapping[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The `url` and `options` of an `SSE` component that posts `body` as JSON to the route `path`.

    Returning new `options` starts a new stream even when the URL is the same; a `url` of `None` ends the
    running one (how a Stop button works).
    """
    options = {
        "method": "POST",
        "payload": json.dumps(body),
        "headers": {"Content-Type": "application/json", **(headers or {})},
    }
    return route_url(path), options


def stream_on(
    app: Dash,
    sse_id: str,
    path: str,
    *dependencies: Input | State,
    into: Output | None = None,
) -> Callable[[BodyFunc], BodyFunc]:
    """Register the decorated function as the callback that starts the `SSE` component `sse_id`.

    When an `Input` of `dependencies` changes, the function is called with their values and returns the
    JSON body to post to `path` (`None`, or raising `PreventUpdate`, starts nothing). With `into`, the
    text received so far (the component's `value`) is copied there by a clientside callback, so no
    server callback runs per message. The text is the model's: show it as text, or sanitise it before
    rendering it as markup. A refused request (a 4xx answer) leaves the text empty.
    """

    def register(func: BodyFunc) -> BodyFunc:
        @app.callback(Output(sse_id, "url"), Output(sse_id, "options"), *dependencies)
        def start(*values: Any) -> tuple[str, dict[str, Any]]:
            body = func(*values)
            if body is None:
                raise PreventUpdate
            return sse_request(path, body)

        if into is not None:
            app.clientside_callback("function (text) { return text || ''; }", into, Input(sse_id, "value"))
        return func

    return register
