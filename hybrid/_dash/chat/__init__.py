"""`hybrid.Chat`: a streaming chat component for any Dash app (an All-in-One component).

* `component.py`: the `Chat` itself: its layout, its answer function, `chat.model(...)`;
* `wiring.py`: how `create_app` finds the app's Chats and gives each its callbacks and scripts;
* `assets/`: the browser side, one controller per Chat element, served from this package.

The package is also the namespace Dash serves the scripts from
(`/_dash-component-suites/hybrid._dash.chat/`), which is why it carries a `__version__`.
"""

from hybrid._version import __version__

__all__ = ["__version__"]
