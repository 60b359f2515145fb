"""A Dash app whose Chats' ticket requests fail, for `tests/test_chat_refusals.py`.

`asker` reads the `notes` text area as its context (a test makes it larger than the server's body
limit); `broken`'s signing fails with an exception, as a bug in the server would make it (the chat stream's
`issue_chat` is wrapped to raise for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dash import Dash, State, dcc, html

import hybrid

app = Dash(__name__)
asker = hybrid.Chat("asker", context=[State("notes", "value")])
broken = hybrid.Chat("broken")


@asker.answer
async def answer(messages: Sequence[hybrid.Message], notes: str | None) -> str:
    return f"asker answers: {messages[-1].content}"


app.layout = html.Div([dcc.Textarea(id="notes", value=""), asker, broken])
server = hybrid.create_app(app, settings=hybrid.Settings.from_env())

_issue = server.chat.issue


def _issue_or_fail(chat_id: str, messages: Any, context: Sequence[Any], **signed_for: Any) -> str:
    if chat_id == broken.chat_id:
        raise RuntimeError("a bug in the signing")
    return _issue(chat_id, messages, context, **signed_for)


server.chat.issue = _issue_or_fail  # type: ignore[method-assign]
