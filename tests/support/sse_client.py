"""A spec-compliant Server-Sent Events parser (HTML living standard, "Event stream interpretation").

Written independently of `hybrid.sse` so tests check the encoder against the standard, not against itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Message:
    event: str
    data: str
    id: str = ""
    """The last event ID when the event was dispatched (what a reconnect sends as `Last-Event-ID`)."""


def parse(stream: str) -> list[Message]:
    """Every event dispatched while reading `stream` (an unterminated last event is not dispatched)."""
    messages: list[Message] = []
    data: list[str] = []
    event = ""
    last_id = ""
    lines = _LINE.split(stream)
    for line in lines[:-1]:  # the piece after the last line break is an incomplete line
        if line == "":
            if data:
                messages.append(Message(event or "message", "\n".join(data), last_id))
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id" and "\0" not in value:
            last_id = value
    return messages


def answer(stream: str) -> tuple[str, bool]:
    """What `SSE(concat=True)` shows: the concatenated plain messages up to `[DONE]`, and whether it came."""
    text = []
    for message in parse(stream):
        if message.event != "message":
            continue
        if message.data == "[DONE]":
            return "".join(text), True
        text.append(message.data)
    return "".join(text), False
