"""What an answer may not set on the page: props that put raw HTML or script into it.

`SetProps` (an answer's, or a tool's `context.set_props`) changes components as a Dash callback does, but
its values come from an answer: from the model, when a tool passes the model's choices on. A few props
turn data into markup (`dangerouslySetInnerHTML`, an iframe's `srcDoc`, `dcc.Markdown`'s
`dangerously_allow_html`), and a URL prop holding a `javascript:`, `vbscript:` or `data:text/html` URL runs
script when followed. Those are refused, in the values and in the components they hold, unless the Chat
allows the prop by name (`hybrid.Chat(allow_props=...)`). The page's script refuses them again.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from hybrid._errors import StreamError

HTML_PROPS = frozenset({"dangerouslySetInnerHTML", "srcDoc", "dangerously_allow_html"})
"""Props whose value the page renders as HTML."""
URL_PROPS = frozenset(
    {"href", "src", "action", "formaction", "data", "poster", "background", "cite", "codebase", "srcset"}
    | {"xlinkhref", "manifest", "ping", "url"}
)
"""Props (in lower case) whose value the page follows as a URL."""
SCRIPT_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
_IGNORED = re.compile(r"[\x00-\x20]")
"""What browsers skip in a URL's scheme (blanks and control characters, tabs and newlines anywhere)."""


class UnsafeProp(StreamError):
    """A `SetProps` that would put HTML or script into the page: the answer (or the tool call) ends."""

    def __init__(self, prop: str) -> None:
        super().__init__(
            f"the answer tried to set `{prop}`, which can put HTML or script into the page; the app must "
            "allow it by name (hybrid.Chat(allow_props=...))",
            type="unsafe_prop",
        )
        self.prop = prop


def check_page_props(props: Any, allowed: Collection[str] = ()) -> None:
    """Raise `UnsafeProp` naming the first prop in `props` (plain JSON data, components included) that
    would inject HTML or script, unless its name is in `allowed`."""
    pending: list[Any] = [props]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in allowed and _unsafe(key, item):
                    raise UnsafeProp(key)
                pending.append(item)
        elif isinstance(value, list):
            pending.extend(value)


def _unsafe(name: str, value: Any) -> bool:
    if name in HTML_PROPS:
        return value not in (None, False, "")
    return name.lower() in URL_PROPS and isinstance(value, str) and is_script_url(value)


def is_script_url(value: str) -> bool:
    """Whether `value`, followed as a URL, would run script."""
    return _IGNORED.sub("", value[:64]).lower().startswith(SCRIPT_SCHEMES)
