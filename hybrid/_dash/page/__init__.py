"""The built-in chat page: a Dash app made of page chrome around one `hybrid.Chat` (`app.py`)."""
