"""The built-in chat page: a Dash app that streams answers from the native stream endpoint."""

from hybrid.dash.ui.chat import build_chat_app

__all__ = ["build_chat_app"]
