"""The Dash side of hybrid: serving a Dash app under the ASGI root, and what its pages stream with.

* `serve.py`: the Dash (Flask) app served under the root, with a shared secret and a backend check;
* `bridge.py`: `DashBridge`, a2wsgi with one hand-off to a thread per request;
* `static.py`: `DashFiles`, Dash's component suites and assets from the event loop, gzipped once;
* `libraries.py`: `load_only`, no scripts of component libraries a page does not use;
* `mount.py`: page, asset and callback URLs that follow the mount path of each request;
* `guard.py`: malformed callback requests answered 400 instead of Dash's 500;
* `components.py`: dash-extensions `SSE` components wired to stream routes (`stream_on`);
* `chat/`: `hybrid.Chat`, the streaming chat component, and how `create_app` finds and wires it;
* `ui/`: the built-in chat page, page chrome around one Chat.

Nothing in the ASGI stream core imports from here; `hybrid.app` puts the two together.
"""

from hybrid.dash.components import sse_request, stream_on
from hybrid.dash.guard import DashCallbackGuard
from hybrid.dash.mount import route_url
from hybrid.dash.serve import serve_dash

__all__ = ["DashCallbackGuard", "route_url", "serve_dash", "sse_request", "stream_on"]
