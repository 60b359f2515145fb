"""A Dash (Flask) app served under hybrid's ASGI root, at any mount path."""
