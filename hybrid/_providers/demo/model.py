"""The embedded demo model: a markdown answer at a realistic cadence, with no keys and no network.

Offered tools, it calls those the user's message names, and then answers with their results
(`tools.py`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence

from hybrid._providers.base import ChatRequest, Completion, Delta, Reply, Usage
from hybrid._providers.demo.tools import demo_calls, results_answer
from hybrid._wire.parts import ToolCall, ToolCallDelta

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


ARGUMENT_PIECE = 4
"""Characters of a tool call's arguments per delta, as a model writes them."""


class DemoProvider:
    """Streams a fixed markdown answer about the user's last message; calls the tools it names.

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

    async def _generate(self, request: ChatRequest) -> AsyncIterator[Delta | Completion]:
        last = request.messages[-1] if request.messages else None
        calls = (
            demo_calls(last.content, request.tools) if request.tools and last and last.role == "user" else []
        )
        if calls:
            deltas: list[Delta] = [piece for i, call in enumerate(calls) for piece in _pieces(i, call)]
        elif last and last.role == "tool":
            deltas = list(tokens(results_answer(request.messages)))
        else:
            turn = sum(1 for m in request.messages if m.role == "user")
            deltas = list(tokens(_ANSWER.format(topic=_topic(request), turn=turn)))
        await asyncio.sleep(self.ttft)
        for index, delta in enumerate(deltas):
            if index:
                await asyncio.sleep(self.token_delay)
            yield delta
        prompt_tokens = sum(len(tokens(m.content)) for m in request.messages)
        yield Completion(
            model=request.model,
            finish_reason="tool_calls" if calls else "stop",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=len(deltas)),
            tool_calls=tuple(calls),
        )

    async def aclose(self) -> None:
        """Nothing to release."""


def _pieces(index: int, call: ToolCall) -> list[ToolCallDelta]:
    """`call` as a model streams it: named first, then its arguments a few characters at a time."""
    arguments = call.arguments
    pieces = [arguments[i : i + ARGUMENT_PIECE] for i in range(0, len(arguments), ARGUMENT_PIECE)]
    return [ToolCallDelta(index, call.call_id, call.name, piece) for piece in ["", *pieces]]
