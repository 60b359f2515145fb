"""Chat model providers behind one interface (`Provider.reply` -> `Reply`)."""

from hybrid.providers.base import ChatRequest, Completion, Message, Provider, Reply, Usage
from hybrid.providers.demo import DemoProvider

__all__ = ["ChatRequest", "Completion", "DemoProvider", "Message", "Provider", "Reply", "Usage"]
