"""The system prompts the built-in page offers by name (its Style setting); the prompts stay on the server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    """A system prompt the server offers under a name; the chat page shows `label`."""

    label: str
    prompt: str


PRESETS: dict[str, Preset] = {
    "default": Preset("Default", ""),
    "concise": Preset("Concise", "Answer as briefly as the question allows. Prefer lists over prose."),
    "teacher": Preset(
        "Patient teacher",
        "Explain step by step for a curious beginner, define terms as you use them, and end with one "
        "question that checks understanding.",
    ),
    "engineer": Preset(
        "Senior engineer",
        "You are a senior software engineer. Give working code in fenced blocks, name trade-offs, and "
        "say when you are unsure.",
    ),
}
