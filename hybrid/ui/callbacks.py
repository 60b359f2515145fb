"""The chat page's callbacks: all clientside, calling into `assets/chat.js` (namespace `hybrid`).

None runs per token: Send, Stop and New chat each make one call, and settings are handed over when they
change. The conversation is never sent to the Dash server; the page posts it to the stream endpoint.
"""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, State


def register_callbacks(app: Dash, *, allow_system_prompt: bool) -> None:
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
