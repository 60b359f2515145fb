"""The Server-Sent Events wire format that the dash-extensions `SSE` component reads.

Each text delta becomes one message; the client (`SSE(concat=True)`) appends the messages' data, and a
message whose data is exactly `[DONE]` ends the stream. Framing follows the HTML living standard:

* every line of a delta gets its own `data:` field, so the client joins them back with `\\n`;
* one space always follows `data:`, and the parser strips exactly one, so leading spaces survive;
* the standard has no way to carry a carriage return inside data: `\\r\\n` and a lone `\\r` arrive as the
  `\\n` they mean, including a `\\r\\n` split across two deltas;
* a delta that is exactly `[DONE]` is sent as two messages (`[DONE` and `]`) that concatenate back to the
  text, so only the encoder's own terminator ends the stream.

A resumable answer's events are *frames*: one SSE event each, numbered with an `id:` field
(`numbered`), so a client that reconnects with `Last-Event-ID` gets exactly the frames after it.
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
_END_OF_EVENT = b"\n\n"


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


StreamEvent = str | Event
"""What a stream's source yields: a text message (appended to the answer), or a named `Event`."""


GENERIC_FAILURE = "the server hit an unexpected error"
SHUTDOWN_NOTICE = "the server is restarting"


def notice(reason: str) -> str:
    """The line a stream ends with when it cannot finish its answer."""
    return f"\n\n**⚠ The answer stopped: {reason}.**"


def failure(type: str, reason: str) -> bytes:
    """The end of a stream that could not complete: a machine-readable error, the notice, `[DONE]`."""
    return event("error", {"type": type, "message": reason}) + MessageEncoder().message(notice(reason)) + DONE


RECONNECT_MS = 500
RECONNECT = f"retry: {RECONNECT_MS}\n".encode() + event("reconnect", {"reason": "the server is restarting"})
"""Ends a resumable stream whose server shuts down while the answer goes on: resume it elsewhere, after
the `retry:` milliseconds (by then the stopping server no longer accepts connections)."""


def numbered(chunk: bytes, seq: int) -> list[bytes]:
    """The SSE events of `chunk` as frames numbered `seq`, `seq + 1`, ...

    Each event gets an id of its own, so a connection cut between two events of one chunk resumes
    between them, never repeating the first.
    """
    end = chunk.find(_END_OF_EVENT) + 2
    if end == len(chunk):  # one event: nearly every chunk
        return [b"id: %d\n%s" % (seq, chunk)]
    frames = []
    start = 0
    while start < len(chunk):
        end = chunk.index(_END_OF_EVENT, start) + 2
        frames.append(b"id: %d\n%s" % (seq, chunk[start:end]))
        seq += 1
        start = end
    return frames


def ends_answer(frame: bytes) -> bool:
    """Whether `frame` is the numbered `[DONE]` that ends an answer: its id line, then `DONE` alone.

    Text never is: a delta `[DONE]` is sent as two messages, and a last line `[DONE]` of a multi-line
    delta follows another `data:` line in the same event.
    """
    return frame.endswith(DONE) and frame.find(b"\n") == len(frame) - len(DONE) - 1
