"""`build_chat_app`: the chat page as a Dash app (layout in `layout.py`, callbacks in `callbacks.py`,
browser code in `assets/`).

The page streams answers from the native `POST /api/stream` route, whose URL is computed per page load
from the mount path of the request (`hybrid.dash.mount.route_url`), never hard-coded to `/`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dash import Dash, html

from hybrid.chat import CHAT_STREAM_PATH, PRESETS, Preset
from hybrid.dash.libraries import libraries_in, load_only
from hybrid.dash.mount import route_url
from hybrid.dash.serve import signed_in_user
from hybrid.dash.ui.callbacks import IssueTicket, register_callbacks
from hybrid.dash.ui.layout import chat_layout


def build_chat_app(
    *,
    models: Sequence[str] = ("demo",),
    presets: Mapping[str, Preset] = PRESETS,
    allow_system_prompt: bool = False,
    issue_ticket: IssueTicket | None = None,
) -> Dash:
    """The chat UI as a Dash (Flask) app, ready to mount under `hybrid.create_app`.

    `presets` are the system-prompt presets the server accepts (names and labels are shown; the prompts
    stay on the server); `allow_system_prompt` adds a free-text system prompt to the settings. When the
    stream endpoint accepts only signed tickets, pass `issue_ticket` (e.g. `ChatStream.issue`): the page
    then gets a ticket for each request from a Dash callback and posts `{"ticket": ...}` instead.
    """
    app = Dash(__name__, title="hybrid chat", update_title=None)

    def layout() -> html.Div:
        return chat_layout(
            stream_url=route_url(CHAT_STREAM_PATH),
            models=models,
            presets=presets,
            allow_system_prompt=allow_system_prompt,
            tickets=issue_ticket is not None,
            user=signed_in_user(),
        )

    app.layout = layout
    load_only(app, libraries_in(layout()))  # no dash_table (34 KB) on a page without a table
    register_callbacks(app, allow_system_prompt=allow_system_prompt, issue_ticket=issue_ticket)
    return app
