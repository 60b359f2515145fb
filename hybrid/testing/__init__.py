"""Testing an app that uses hybrid (docs: "Testing your app").

- `ask(chat, question, context=[...])` runs a Chat's answer in process, as hybrid's server runs it, and
  returns an `Answer` (its parts, text, reasoning, model): unit tests of answer functions and tools,
  with no server or browser (`ask_async` in async tests).
- The pytest plugin (`hybrid.testing.plugin`, registered by entry point) gives the fixtures
  `dash_hybrid` (`dash_duo` on an app hybrid's server serves: a `HybridComposite`) and `hybrid_server`
  (the server alone: a `HybridRunner`). `ChatProblem` is what a Chat that cannot answer, or an answer
  that failed, raises in them.

The browser classes need `dash-hybrid[testing]` (dash.testing and Selenium): they are imported when first
used, so `ask` works without them.
"""

from __future__ import annotations

import importlib
from typing import Any

from hybrid.testing._answers import Answer, ask, ask_async

_BROWSER = {
    "ChatProblem": "hybrid.testing._browser",
    "HybridComposite": "hybrid.testing._browser",
    "HybridRunner": "hybrid.testing._server",
}

__all__ = ["Answer", "ChatProblem", "HybridComposite", "HybridRunner", "ask", "ask_async"]


def __getattr__(name: str) -> Any:
    if name in _BROWSER:
        return getattr(importlib.import_module(_BROWSER[name]), name)
    raise AttributeError(f"module 'hybrid.testing' has no attribute {name!r}")
