"""How an answer's end is told: the `completion` event (the footer's model, finish reason and tokens),
and a notice when the model cut the answer short."""

from __future__ import annotations

from hybrid._providers.base import Completion
from hybrid._wire.sse import Event, StreamEvent, notice

STOP_REASONS = {
    "length": "it reached the length limit",
    "content_filter": "the provider's content filter withheld the rest",
}
"""Finish reasons that cut an answer short, and how the user is told."""


def completion_events(completion: Completion) -> list[StreamEvent]:
    """The `completion` event, and the notice if the answer was cut short."""
    usage = completion.usage
    events: list[StreamEvent] = [
        Event(
            "completion",
            {
                "model": completion.model,
                "finish_reason": completion.finish_reason,
                "prompt_tokens": usage.prompt_tokens if usage else None,
                "completion_tokens": usage.completion_tokens if usage else None,
            },
        )
    ]
    reason = STOP_REASONS.get(completion.finish_reason or "")
    if reason:
        events.append(notice(reason))
    return events
