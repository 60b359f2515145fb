"""The chat page's callbacks: all clientside, calling into `assets/chat.js` (namespace `hybrid`).

None runs per token: Send, Stop and New chat each make one call, and settings are handed over when they
change. The page posts the conversation to the stream endpoint; only when the server signs requests
(`issue_ticket`) does it go through one server callback per answer first, which checks and signs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State

from hybrid.dash.serve import signed_in_user
from hybrid.errors import ApiError

IssueTicket = Callable[..., str]
"""`issue(body, user=...)`: checks a chat request body and returns a signed ticket for it, for `user`
only; raises `ApiError` when it is refused."""


def register_callbacks(app: Dash, *, allow_system_prompt: bool, issue_ticket: IssueTicket | None) -> None:
    def call(name: str) -> ClientsideFunction:
        return ClientsideFunction(namespace="hybrid", function_name=name)

    app.clientside_callback(call("init"), Input("chat-config", "data"))
    settings = [Input("model", "value"), Input("preset", "value"), Input("temperature", "value")]
    if allow_system_prompt:
        settings.append(Input("system", "value"))
    app.clientside_callback(call("settings"), *settings)
    app.clientside_callback(
        call("send"), Input("send", "n_clicks"), State("prompt", "value"), prevent_initial_call=True
    )
    app.clientside_callback(call("stop"), Input("stop", "n_clicks"), prevent_initial_call=True)
    app.clientside_callback(call("newChat"), Input("new-chat", "n_clicks"), prevent_initial_call=True)
    if issue_ticket is None:
        return
    app.clientside_callback(call("ticket"), Input("ticket", "data"), prevent_initial_call=True)

    @app.callback(Output("ticket", "data"), Input("ticket-request", "data"), prevent_initial_call=True)
    def sign(request: Any) -> dict[str, str]:
        if not isinstance(request, dict) or not isinstance(request.get("id"), str):
            return {"id": "", "error": "malformed ticket request"}
        try:
            return {"id": request["id"], "ticket": issue_ticket(request.get("body"), user=signed_in_user())}
        except ApiError as exc:
            return {"id": request["id"], "error": exc.message}
