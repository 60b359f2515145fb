"""A hybrid chat app for the UI tests: a model that answers by keyword and records what it was asked.

Keywords in the last user message choose the answer: `unsafe` (HTML, script and `javascript:` links),
`fail once` (fails mid-answer the first time it is asked), `slow` (50 ms per token), `long` (a 4,000-token
markdown answer, 2 ms per token). Anything else gets the demo model's answer. `GET /test/requests` lists
every request the server passed to the model, so a test can check what a page actually sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import hybrid
from hybrid import StreamError
from hybrid._providers.base import ChatRequest, Completion, Reply, Usage
from hybrid._providers.demo.model import DemoProvider
from hybrid.dev.answers import long_markdown_answer

UNSAFE = [
    "Inert: ",
    '<img src=x onerror="window.__pwned = 1">',
    " <script>window.__pwned = 2</script>",
    " [click](javascript:window.__pwned=3)",
    " [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    " ",
    "[DONE]",
    " and [1] stay literal, ",
    '<a href="javascript:window.__pwned=4">raw link</a>',
    " [safe](https://example.com/) end-of-unsafe",
]


class ScriptedProvider:
    name = "scripted"
    models = ("scripted", "scripted-large")

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.failed: set[str] = set()

    def reply(self, request: ChatRequest) -> Reply:
        self.requests.append(request)
        return Reply(self._generate(request))

    async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        prompt = request.messages[-1].content
        if "unsafe" in prompt:
            answer, delay = UNSAFE, 0.01
        elif "long" in prompt:
            answer, delay = long_markdown_answer(), 0.002
        elif "slow" in prompt:
            answer, delay = None, 0.05
        elif "fail once" in prompt and prompt not in self.failed:
            self.failed.add(prompt)
            yield "Partial answer, then "
            await asyncio.sleep(0.05)
            raise StreamError("the model provider failed")
        else:
            answer, delay = None, 0.01
        if answer is None:  # the demo model's answer at this pace
            demo = DemoProvider(ttft=0.05, token_delay=delay, models=self.models).reply(request)
            async for delta in demo:
                yield delta
            assert demo.completion is not None
            yield demo.completion
            return
        for delta in answer:
            await asyncio.sleep(delay)
            yield delta
        yield Completion(request.model, "stop", Usage(prompt_tokens=1, completion_tokens=len(answer)))

    async def aclose(self) -> None:
        """Nothing to release."""


def recorded_route(provider: ScriptedProvider) -> Route:
    """`GET /test/requests`: every request `provider` was asked, oldest first."""

    async def recorded(request: Request) -> JSONResponse:
        return JSONResponse([_recorded(item) for item in provider.requests])

    return Route("/test/requests", recorded, methods=["GET"])


def _recorded(request: ChatRequest) -> dict[str, object]:
    """A request as the tests compare it: each message its role and content (no tool rounds here)."""
    return {**asdict(request), "messages": [{"role": m.role, "content": m.content} for m in request.messages]}


provider = ScriptedProvider()
app = hybrid.create_app(
    provider=provider, settings=hybrid.Settings.from_env(), routes=[recorded_route(provider)]
)
