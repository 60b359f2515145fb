"""The embedded demo model: a markdown answer at a realistic cadence, with no keys and no network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from hybrid.providers.base import ChatRequest, Completion, Reply, Usage

_TOKEN = re.compile(r"\s*\S+|\s+")

_ANSWER = """\
Here is a demo answer to **{topic}**, streamed token by token from the embedded model. \
This is turn {turn} of our conversation.

Streaming in hybrid works like this:

1. A Dash callback checks your message and signs it into a short-lived ticket.
2. The browser opens the stream on a *native* Starlette route, next to the Dash app.
3. Each token arrives as one Server-Sent Event, so the answer grows as you read it.

A few things worth knowing:

- Flask threads stay free for Dash callbacks while answers stream.
- Stop closes the stream, and the model stops generating at once.
- Set `OPENAI_API_KEY` and `HYBRID_MODEL` to talk to a real model instead.

```python
import hybrid

app = hybrid.create_app()  # serve with: uvicorn hybrid.main:app
```

That is the whole demo: the answer ends here."""


def tokens(text: str) -> list[str]:
    """Split text into word-sized tokens (each keeps its leading whitespace), as a model streams it."""
    return _TOKEN.findall(text)


def _topic(request: ChatRequest) -> str:
    question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    words = " ".join(question.split()[:12]).replace("*", "").replace("`", "")
    return words or "your question"


class DemoProvider:
    """Streams a fixed markdown answer about the user's last message.

    `ttft` is the delay before the first token and `token_delay` the delay between tokens, in seconds.
    """

    name = "demo"

    def __init__(
        self, *, ttft: float = 0.35, token_delay: float = 0.025, models: Sequence[str] = ("demo",)
    ) -> None:
        self.ttft = ttft
        self.token_delay = token_delay
        self.models = tuple(models)

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(self._generate(request))

    async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        turn = sum(1 for m in request.messages if m.role == "user")
        answer = tokens(_ANSWER.format(topic=_topic(request), turn=turn))
        await asyncio.sleep(self.ttft)
        for index, token in enumerate(answer):
            if index:
                await asyncio.sleep(self.token_delay)
            yield token
        prompt_tokens = sum(len(tokens(m.content)) for m in request.messages)
        yield Completion(
            model=request.model,
            finish_reason="stop",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(answer)),
        )

    async def aclose(self) -> None:
        """Nothing to release."""
