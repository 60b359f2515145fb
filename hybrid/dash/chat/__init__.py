"""`hybrid.Chat`: a streaming chat component for any Dash app (an All-in-One component).

* `component.py`: the `Chat` itself: its layout, its answer function, `chat.model(...)`;
* `wiring.py`: how `create_app` finds the app's Chats and gives each its callbacks and scripts;
* `assets/`: the browser side, one controller per Chat element (`chat.js`), served from this package.

The package is also the namespace Dash serves the scripts from (`/_dash-component-suites/hybrid.dash.chat/`),
which is why it carries a `__version__`.
"""

from importlib.metadata import PackageNotFoundError, version

from hybrid.dash.chat.component import Chat
from hybrid.dash.chat.wiring import attach_chats, find_chats

try:
    __version__ = version("hybrid")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0"

__all__ = ["Chat", "attach_chats", "find_chats"]
