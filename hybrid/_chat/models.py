"""`ChatModels`: the server's provider as a chat answer asks it, with the server's models and limits.

An answer function calls the model through its Chat (`chat.model(...)`), which asks the answer's turn,
which asks here: the request is checked (one of the server's models, a temperature from 0 to 2, the
server's token limit), and the answer comes from the provider, or from the tool loop when the Chat has
tools. Each completion goes to the metrics (`hooks`) and to whoever asked (the turn's footer).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence

from hybrid._chat.request import chat_request
from hybrid._errors import ApiError, StreamError
from hybrid._providers.base import ChatRequest, Completion, Message, Provider
from hybrid._streams.hooks import StreamHooks
from hybrid._tools.context import ToolContext
from hybrid._tools.loop import answer_with_tools
from hybrid._tools.toolbox import Toolbox
from hybrid._wire.parts import Part


class ChatModels:
    """The provider of an app, its models (by default the provider's) and the answer's token limit."""

    def __init__(
        self,
        provider: Provider,
        *,
        models: Sequence[str] | None = None,
        max_tokens: int | None = None,
        hooks: StreamHooks | None = None,
    ) -> None:
        self.provider = provider
        self.models = tuple(models or provider.models)
        self.max_tokens = max_tokens
        self.hooks = hooks or StreamHooks()
        """Told of the `Completion` of each call that ran to its end (metrics)."""

    def request(
        self,
        messages: Iterable[Message | Mapping[str, str]],
        *,
        system: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
    ) -> ChatRequest:
        """The checked request for the model; a `StreamError` says what is wrong (it is the answer
        function's call that is wrong, and the answer is streaming already)."""
        try:
            return chat_request(
                messages,
                models=self.models,
                model=model,
                temperature=temperature,
                system=system,
                max_tokens=self.max_tokens,
            )
        except ApiError as exc:
            raise StreamError(exc.message, type="invalid_request") from None

    async def parts(
        self,
        request: ChatRequest,
        *,
        tools: Toolbox | None,
        context: ToolContext,
        max_tool_rounds: int,
        on_completion: Callable[[Completion], None],
    ) -> AsyncIterator[Part]:
        """The model's answer to `request`: with `tools`, the tool loop (the tools seeing `context`)."""

        def completed(completion: Completion) -> None:
            self.hooks.completed(completion)
            on_completion(completion)

        if tools:
            looped = answer_with_tools(
                self.provider, request, tools, context, max_rounds=max_tool_rounds, on_completion=completed
            )
            async with contextlib.aclosing(looped):
                async for part in looped:
                    yield part
            return
        async with contextlib.aclosing(self.provider.reply(request)) as reply:
            async for delta in reply:
                yield delta
        if reply.completion is not None:
            completed(reply.completion)
