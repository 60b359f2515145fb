"""The chat page's layout: a header with settings, a sidebar of conversations, and the page's Chat.

The conversation list (`#conversation-list`) is rendered by `assets/page.js` from the Chat's controller,
and the page's buttons are handled there (by their `data-page-action`); the settings are Dash components
whose values the Chat reads as its context when the user sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from hybrid._dash.chat.component import Chat
from hybrid._dash.page.presets import Preset

EXAMPLES = (
    "Explain Server-Sent Events in one paragraph",
    "Write a Python function that merges two sorted lists",
    "Compare threads, processes and asyncio in a table",
    "Give me three ideas for a weekend project",
)


def chat_layout(
    chat: Chat,
    *,
    models: Sequence[str],
    presets: Mapping[str, Preset],
    allow_system_prompt: bool,
    user: str | None = None,
) -> html.Div:
    """The whole page around `chat`; `user` is who is signed in, shown in the header, when the app knows."""
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
                                **{"data-page-action": "toggle-sidebar"},
                                # Named by its text (WCAG 2.5.3); whether the list shows is `aria-expanded`.
                                **{"aria-expanded": "false"},
                                **{"aria-controls": "sidebar"},
                            ),
                            html.H1("hybrid chat"),
                            *([html.P(f"Signed in as {user}", className="signed-in")] if user else []),
                            _settings(models, presets, allow_system_prompt),
                        ],
                    ),
                    chat,
                ],
            ),
        ],
    )


def _sidebar() -> html.Aside:
    return html.Aside(
        id="sidebar",
        className="sidebar",
        **{"aria-label": "Conversations"},
        children=[
            html.Button("+ New chat", id="new-chat", type="button", **{"data-page-action": "new-chat"}),
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
