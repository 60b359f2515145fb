"""A conversation as its owner takes it away: Markdown of the branch shown, JSON of the whole tree.

The JSON form is also what the API answers for a conversation (`thread_json`): one shape for both, with
`format` naming its version, so that an export can be read back by a later hybrid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hybrid._conversations.records import Conversation, Feedback, Message, Thread

FORMAT = "hybrid.conversation/1"

_ROLES = {"user": "You", "assistant": "Assistant"}
_ENDINGS = {"stopped": "stopped by you", "failed": "failed", "streaming": "interrupted"}


def markdown(thread: Thread) -> str:
    """The selected branch as Markdown: a heading per message, with how an answer ended, its model and
    its rating. Answers are Markdown already and are kept as written."""
    conversation = thread.conversation
    lines = [f"# {_one_line(conversation.title)}", "", f"*{_day(conversation.created_at)}*", ""]
    for message in thread.path():
        notes = [note for note in (message.model, _ENDINGS.get(message.status)) if note]
        rating = thread.feedback.get(message.id)
        if rating is not None:
            notes.append("👍" if rating.rating > 0 else "👎")
        heading = _ROLES[message.role] + (f" ({', '.join(notes)})" if notes else "")
        lines += [f"## {heading}", "", message.content.strip() or "*(no text)*", ""]
        if message.status == "failed" and message.error:
            lines += [f"> {_one_line(message.error)}", ""]
        if rating is not None and rating.comment:
            lines += [f"> Feedback: {_one_line(rating.comment)}", ""]
    return "\n".join(lines)


def thread_json(thread: Thread) -> dict[str, Any]:
    """The whole conversation: metadata, every message (oldest first, each with its parent and its
    feedback), the selected leaf and the selected path's ids."""
    return {
        "format": FORMAT,
        **conversation_json(thread.conversation),
        "selected": thread.selected,
        "path": [message.id for message in thread.path()],
        "messages": [_message(message, thread.feedback.get(message.id)) for message in thread.messages],
    }


def conversation_json(conversation: Conversation) -> dict[str, Any]:
    """A conversation's metadata, as lists show it."""
    return {
        "id": conversation.id,
        "chat": conversation.chat,
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
    }


def _message(message: Message, feedback: Feedback | None) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "error": message.error,
        "model": message.model,
        "usage": {"prompt_tokens": message.prompt_tokens, "completion_tokens": message.completion_tokens},
        "ttft_ms": message.ttft_ms,
        "duration_ms": message.duration_ms,
        "reasoning": message.reasoning,
        "parts": message.parts,
        "context": message.context,
        "created_at": message.created_at.isoformat(),
        "updated_at": message.updated_at.isoformat(),
        "feedback": None if feedback is None else {"rating": feedback.rating, "comment": feedback.comment},
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
