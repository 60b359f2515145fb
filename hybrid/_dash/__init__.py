"""The Dash side of hybrid: serving a Dash app under the ASGI root, and the Chat.

* `serving/`: the Dash (Flask) app under the root (`app.py`), through a2wsgi with one hand-off per
  request (`bridge.py`), its files from the event loop (`files.py`), only the libraries a page uses
  (`libraries.py`), URLs that follow the mount path (`mount.py`), malformed callbacks refused
  (`callback_guard.py`);
* `chat/`: `hybrid.Chat`, the streaming chat component, and how `create_app` finds and wires it;
* `page/`: the built-in chat page, page chrome around one Chat;
* `sse_component.py`: dash-extensions `SSE` components wired to stream routes (`stream_on`).

Nothing in the stream core imports from here; `hybrid._app` puts the two together.
"""
