"""The built-in chat page: a Dash app made of page chrome around one `hybrid.Chat`."""

from hybrid.dash.ui.chat import build_chat_app

__all__ = ["build_chat_app"]
