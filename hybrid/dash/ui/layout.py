"""The chat page's layout: Dash components for the controls, empty containers the page script fills.

The conversation (`#conversation`) and the history list (`#conversation-list`) are rendered by
`assets/chat.js`; Dash never re-renders them, so a streaming answer costs no React or server work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from hybrid.chat import Preset

EXAMPLES = (
    "Explain Server-Sent Events in one paragraph",
    "Write a Python function that merges two sorted lists",
    "Compare threads, processes and asyncio in a table",
    "Give me three ideas for a weekend project",
)


def chat_layout(
    *,
    stream_url: str,
    models: Sequence[str],
    presets: Mapping[str, Preset],
    allow_system_prompt: bool,
    tickets: bool,
    user: str | None = None,
) -> html.Div:
    """The whole page; `stream_url` is where this page load reaches the chat stream.

    With `tickets`, the page asks the server (a Dash callback) to sign each request before it streams.
    `user` is who is signed in, shown in the header, when the app knows its users.
    """
    config = {
        "streamUrl": stream_url,
        "examples": EXAMPLES,
        "allowSystem": allow_system_prompt,
        "tickets": tickets,
    }
    return html.Div(
        className="app",
        children=[
            _sidebar(),
            html.Main(
                className="chat",
                children=[
                    html.Header(
                        className="chat-header",
                        children=[
                            html.Button(
                                "Chats",
                                id="sidebar-toggle",
                                type="button",
                                **{"aria-label": "Show conversations", "aria-expanded": "false"},
                                **{"aria-controls": "sidebar"},
                            ),
                            html.H1("hybrid chat"),
                            *([html.P(f"Signed in as {user}", className="signed-in")] if user else []),
                            _settings(models, presets, allow_system_prompt),
                        ],
                    ),
                    html.Section(
                        id="conversation",
                        className="conversation",
                        tabIndex="-1",
                        **{"aria-label": "Conversation"},
                    ),
                    _composer(),
                ],
            ),
            dcc.Store(id="chat-config", data=config),
            dcc.Store(id="ticket-request"),
            dcc.Store(id="ticket"),
        ],
    )


def _sidebar() -> html.Aside:
    return html.Aside(
        id="sidebar",
        className="sidebar",
        **{"aria-label": "Conversations"},
        children=[
            html.Button("+ New chat", id="new-chat", type="button"),
            html.H2("History", id="history-heading"),
            html.Nav(
                html.Ul(id="conversation-list", className="conversation-list"),
                **{"aria-labelledby": "history-heading"},
            ),
        ],
    )


def _settings(
    models: Sequence[str], presets: Mapping[str, Preset], allow_system_prompt: bool
) -> html.Details:
    fields: list[Any] = [
        _choice("model", "Model", [{"label": m, "value": m} for m in models]),
        _choice("preset", "Style", [{"label": p.label, "value": name} for name, p in presets.items()]),
        html.Label("Temperature (0 to 2)", htmlFor="temperature"),
        dcc.Input(
            id="temperature",
            type="number",
            min=0,
            max=2,
            step=0.1,
            value=0.7,
            persistence=True,
            persistence_type="local",
        ),
    ]
    if allow_system_prompt:
        fields += [
            html.Label("Custom system prompt (replaces the style)", htmlFor="system"),
            dcc.Textarea(id="system", rows=3, persistence=True, persistence_type="local"),
        ]
    return html.Details(
        className="settings",
        children=[html.Summary("Settings"), html.Div(className="settings-panel", children=fields)],
    )


def _choice(id: str, legend: str, options: list[dict[str, str]]) -> html.Fieldset:
    """A labelled group of radio buttons (native inputs: keyboard and screen readers just work)."""
    return html.Fieldset(
        className="choice",
        children=[
            html.Legend(legend),
            dcc.RadioItems(
                id=id,
                options=options,
                value=options[0]["value"],
                persistence=True,
                persistence_type="local",
            ),
        ],
    )


def _composer() -> html.Div:
    return html.Div(
        children=[
            html.Div(
                className="composer",
                children=[
                    html.Label("Message", htmlFor="prompt", className="visually-hidden"),
                    dcc.Textarea(id="prompt", className="prompt", placeholder="Message hybrid", rows=1),
                    html.Button("Send", id="send", type="button"),
                    html.Button("Stop", id="stop", type="button", disabled=True),
                ],
            ),
            html.P("Enter sends · Shift+Enter adds a line", className="hint", id="composer-hint"),
        ],
    )
