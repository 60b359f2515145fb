"""What the store returns: conversations, messages, feedback, a page of a list, a whole thread.

Plain frozen dataclasses, with the public ids only (the database's integer keys never leave the store),
so routes and the chat stream can hold and serialize them without a database session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["user", "assistant"]
Status = Literal["complete", "streaming", "stopped", "failed"]
Ending = Literal["complete", "stopped", "failed"]
"""How an answer ended: whole, stopped by its user (what was written is kept), or failed."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's metadata: what lists show (no messages)."""

    id: str
    chat: str
    title: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A question or an answer, a node of its conversation's tree."""

    id: str
    parent_id: str | None
    role: Role
    content: str
    status: Status
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None
    reasoning: str | None = None
    parts: list[Any] | None = None
    """What the answer showed besides its text, for display: tool calls and results, page changes."""
    context: Any = None
    """The Chat's context values sent with a question."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """A user's rating of an answer: +1 or -1, with an optional comment."""

    message_id: str
    rating: int
    comment: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AnswerEnd:
    """Everything known of an answer when it ends, for `ConversationStore.finish_answer`."""

    status: Ending
    content: str
    reasoning: str | None = None
    parts: list[Any] | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: int | None = None
    duration_ms: int | None = None
    error: str | None = None
    """Why it failed, in words the user may read (`status` "failed")."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an owner's conversations, newest first, and the cursor of the next (None: the last)."""

    conversations: tuple[Conversation, ...]
    next: str | None


@dataclass(frozen=True, slots=True)
class Thread:
    """A whole conversation: every message (oldest first), the selected branch, the feedback."""

    conversation: Conversation
    messages: tuple[Message, ...]
    selected: str | None
    """The leaf message of the branch shown (None: no message yet)."""
    feedback: dict[str, Feedback] = field(default_factory=dict)
    """By message id."""

    def path(self, leaf: str | None = None) -> tuple[Message, ...]:
        """The messages from the root to `leaf` (by default the selected one), oldest first."""
        by_id = {message.id: message for message in self.messages}
        path: list[Message] = []
        at = leaf or self.selected
        while at is not None:
            message = by_id[at]
            path.append(message)
            at = message.parent_id
        return tuple(reversed(path))

    def siblings(self, message_id: str) -> tuple[Message, ...]:
        """The messages sharing `message_id`'s parent, itself included, oldest first (‹1/2›)."""
        parent = next(message.parent_id for message in self.messages if message.id == message_id)
        return tuple(message for message in self.messages if message.parent_id == parent)
