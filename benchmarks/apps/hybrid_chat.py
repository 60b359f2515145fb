"""The S7 reference: hybrid's own chat path (ticket, chat events, metrics, built-in page) with the answer
yielded inside the server instead of read from the simulator: what a token costs before any provider."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence

import hybrid
from benchmarks import chat, render_budget, tokens
from hybrid._providers.base import ChatRequest, Completion, Reply, Usage
from hybrid.dev.answers import long_markdown_answer


class LocalProvider:
    """The simulator's answer at the simulator's pace, from this process (no upstream); S11's question
    gets the render budget's long markdown answer instead."""

    name = "local"

    def __init__(self, models: Sequence[str]) -> None:
        self.models = tuple(models)

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(self._generate(request))

    async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        answer, cadence = chat.ANSWER, chat.CADENCE_MS
        if request.messages[-1].content == render_budget.QUESTION:  # S11: the render budget's long answer
            answer, cadence = long_markdown_answer(), 2.0
        async for delta in tokens.atokens(tokens.Plan(n=len(answer), ms=cadence), answer):
            yield delta
        usage = Usage(prompt_tokens=len(request.messages), completion_tokens=len(answer))
        yield Completion(model=request.model, finish_reason="stop", usage=usage)

    async def aclose(self) -> None:
        """Nothing to release."""


settings = hybrid.Settings.from_env()
hybrid.configure_process(settings)  # as `hybrid.main` does for the openai contender beside it
app = hybrid.create_app(settings=settings, provider=LocalProvider(settings.model_choices or (chat.MODEL,)))
gc.freeze()
