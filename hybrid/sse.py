"""The Server-Sent Events wire format that the dash-extensions `SSE` component reads.

Each text delta becomes one message; the client (`SSE(concat=True)`) appends the messages' data, and a
message whose data is exactly `[DONE]` ends the stream. Framing follows the HTML living standard:

* every line of a delta gets its own `data:` field, so the client joins them back with `\\n`;
* one space always follows `data:`, and the parser strips exactly one, so leading spaces survive;
* the standard has no way to carry a carriage return inside data: `\\r\\n` and a lone `\\r` arrive as the
  `\\n` they mean, including a `\\r\\n` split across two deltas;
* a delta that is exactly `[DONE]` is sent as two messages (`[DONE` and `]`) that concatenate back to the
  text, so only the encoder's own terminator ends the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DONE = b"data: [DONE]\n\n"
"""The terminator the dash-extensions `SSE` component and OpenAI-style clients wait for."""

KEEPALIVE = b": keep-alive\n\n"
"""A comment line: proxies see traffic, the page sees (at most) an empty message."""

_DONE_TEXT = "[DONE]"


class MessageEncoder:
    """Encodes the text deltas of one stream as SSE messages.

    It is stateful only to join a `\\r\\n` that a model split across two deltas into one line break.
    """

    __slots__ = ("_after_cr",)

    def __init__(self) -> None:
        self._after_cr = False

    def message(self, text: str) -> bytes:
        """The bytes of one message carrying `text`; empty when there is nothing to send."""
        if "\r" in text or "\n" in text or self._after_cr:
            return self._multiline(text)
        if text == _DONE_TEXT:
            return b"data: [DONE\n\ndata: ]\n\n"
        if not text:
            return b""
        return f"data: {text}\n\n".encode()

    def _multiline(self, text: str) -> bytes:
        if self._after_cr and text.startswith("\n"):
            text = text[1:]
            self._after_cr = False  # that LF ended the CR's line: the next one is a line of its own
        if text:
            self._after_cr = text.endswith("\r")
        if not text:
            return b""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if text == _DONE_TEXT:
            return self.message(text)
        return ("data: " + text.replace("\n", "\ndata: ") + "\n\n").encode()


def event(name: str, data: Any) -> bytes:
    """A named event carrying `data` as one line of JSON.

    The dash-extensions `SSE` component ignores named events, so they can carry metadata (usage, errors)
    for richer clients without changing the text a plain `SSE(concat=True)` shows.
    """
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {payload}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Event:
    """A named event (`event: name`) with JSON `data`, for metadata beside the text.

    A plain `SSE(concat=True)` component ignores named events; hybrid's chat page reads them.
    """

    name: str
    data: Any

    def encode(self) -> bytes:
        return event(self.name, self.data)
