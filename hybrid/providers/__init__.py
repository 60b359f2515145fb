"""Chat model providers behind one interface (`Provider.reply` -> `Reply`)."""

from typing import Any

from hybrid.providers.base import ChatRequest, Completion, Message, Provider, Reply, Usage
from hybrid.providers.demo import DemoProvider
from hybrid.providers.select import provider_from_settings

__all__ = [
    "ChatRequest",
    "Completion",
    "DemoProvider",
    "Message",
    "OpenAIProvider",
    "Provider",
    "Reply",
    "Usage",
    "provider_from_settings",
]


def __getattr__(name: str) -> Any:
    # `OpenAIProvider` imports the openai SDK (~0.35 s, ~17 MB), so only on first use.
    if name == "OpenAIProvider":
        from hybrid.providers.openai import OpenAIProvider

        return OpenAIProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
