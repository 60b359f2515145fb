"""OpenAI, OpenAI-compatible servers (vLLM, Ollama, llama.cpp, LM Studio) and Azure OpenAI, through the SDK.

One `AsyncOpenAI` (or `AsyncAzureOpenAI`) client per process does auth, URLs, connection pooling and TLS,
on the SDK's aiohttp transport (`upstream.py`). The answer is read from the SDK's raw
streaming response, straight from aiohttp's reader, and decoded by `ChunkDecoder` (jiter, no pydantic).

Retries happen only before the first text (never duplicating text), within the first-token deadline, and
by this module rather than the SDK, so a long `Retry-After` is reported to the user at once instead of
waited out in silence. A reasoning model's thinking streams as `hybrid.Reasoning` and counts as answering
for the deadlines. The answer's length limit is sent as `max_tokens`, which every compatible server knows;
a model that refuses it for `max_completion_tokens` (OpenAI's reasoning models) is asked again at once
with that, and so from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx2
import openai

from hybrid._errors import StreamError
from hybrid._providers.base import ChatRequest, Completion, Delta, FailureReport, Message, Reply
from hybrid._providers.openai import upstream
from hybrid._providers.openai.chunks import ChunkDecoder, InStreamError, MalformedChunk
from hybrid._providers.openai.failures import Failure, UpstreamCut, classify
from hybrid._providers.openai.watchdog import Watchdog
from hybrid._wire.parts import Reasoning

logger = logging.getLogger("hybrid.providers.openai")

MAX_RETRY_WAIT = 4.0
"""Longest pause before a retry, in seconds; a provider asking for longer is reported to the user."""
FIRST_RETRY_WAIT = 0.5
DRAIN_SECONDS = 0.1
"""After `[DONE]`, how long to wait for the end of the body, so the connection can be reused."""

UPSTREAM_ERRORS = (openai.APIError, *upstream.READ_ERRORS, UpstreamCut, InStreamError, MalformedChunk)
"""What can go wrong between hybrid and the provider; everything else is a bug and shown as one."""


def sdk_options(
    *, connect_timeout: float, first_token_timeout: float, token_gap_timeout: float
) -> dict[str, Any]:
    """The SDK client options hybrid needs: its HTTP client, chat-sized timeouts, no SDK retries.

    The SDK does not retry: this module does, before the first text only. An answer is read without
    the SDK's read timeout (aiohttp would re-arm a timer for it on every chunk): `Deadlines` bounds
    each of its reads instead.
    """
    read = max(first_token_timeout, token_gap_timeout) + 1.0  # a backstop; answers are read without it
    return {
        "timeout": openai.Timeout(read, connect=connect_timeout, write=connect_timeout, pool=connect_timeout),
        "max_retries": 0,
        "http_client": upstream.http_client(),
    }


class Deadlines:
    """An answer's deadlines: its first text within `first_token` seconds of the question, retries
    included; then at most `gap` seconds of silence. Past one, the `Watchdog` cancels the answer."""

    __slots__ = ("_loop", "first_token", "first_token_due", "gap", "watchdog")

    def __init__(self, first_token: float, gap: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.first_token, self.gap = first_token, gap
        self.first_token_due = self._loop.time() + first_token
        self.watchdog = Watchdog()

    def connecting(self) -> None:
        """Connecting, sending and the response headers count against the first-token deadline."""
        self.watchdog.expect(self.first_token_due)

    async def read(self, read: upstream.BodyRead, started: bool) -> bytes:
        """`read()` within the deadline that applies now: the gap once text `started`, else the first."""
        watchdog = self.watchdog
        watchdog.expect(self._loop.time() + self.gap if started else self.first_token_due)
        try:
            return await read()
        finally:
            watchdog.due = None

    def time_left(self) -> float:
        """Seconds left until the first-token deadline."""
        return self.first_token_due - self._loop.time()


class OpenAIProvider:
    """Chat answers from an OpenAI-compatible API through an SDK client this provider owns and closes.

    `models` are offered to the user (for Azure: deployment names). `first_token_timeout` bounds the time
    from the request to the first text, retries included; `token_gap_timeout` the silence between chunks.
    """

    body_reader = staticmethod(upstream.body_reader)
    """How an attempt reads the answer's body (a benchmark swaps in `upstream.httpx2_reader`)."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        models: Sequence[str],
        name: str = "openai",
        first_token_timeout: float = 60.0,
        token_gap_timeout: float = 30.0,
        retries: int = 2,
    ) -> None:
        self.client = client
        self.models = tuple(models)
        self.name = name
        self.first_token_timeout = first_token_timeout
        self.token_gap_timeout = token_gap_timeout
        self.retries = retries
        self._report: FailureReport | None = None
        self._completion_tokens: set[str] = set()
        """Models that refused `max_tokens`: asked with `max_completion_tokens` instead."""
        timeout = (
            client.timeout if isinstance(client.timeout, httpx2.Timeout) else httpx2.Timeout(client.timeout)
        )
        self._answer_timeout = httpx2.Timeout(
            None, connect=timeout.connect, write=timeout.write, pool=timeout.pool
        )

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(self._generate(request))

    def report_failures(self, report: FailureReport) -> None:
        """Call `report(name, status, type)` for each failed attempt (retried or not)."""
        self._report = report

    async def ping(self, timeout: float) -> None:
        """Raise unless the provider lists its models within `timeout` seconds (`/readyz`; costs nothing).

        A refused connection is an `APIConnectionError`, not the timeout the SDK's aiohttp transport
        reports it as.
        """
        try:
            await self.client.models.list(timeout=timeout)
        except openai.APITimeoutError as exc:
            if upstream.refused(exc):
                raise openai.APIConnectionError(request=exc.request) from exc
            raise

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await self.client.close()

    async def _generate(self, request: ChatRequest) -> AsyncIterator[Delta | Completion]:
        """The answer: attempts until one streams (retrying only before any delta), then its record."""
        deadlines = Deadlines(self.first_token_timeout, self.token_gap_timeout)
        decoder = ChunkDecoder()
        attempt = 0
        try:
            while True:
                try:
                    async with contextlib.aclosing(self._attempt(request, decoder, deadlines)) as deltas:
                        async for delta in deltas:
                            yield delta
                    break
                except UPSTREAM_ERRORS as exc:
                    if self._wants_completion_tokens(request, exc, decoder.started):
                        decoder = ChunkDecoder()
                        continue  # at once, and not counted as a failed attempt
                    wait = self._failed_attempt(request, attempt, exc, decoder.started, deadlines)
                attempt += 1
                decoder = ChunkDecoder()
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            if not deadlines.watchdog.expired():
                raise
            raise self._timed_out(request, attempt, decoder.started) from None
        finally:
            deadlines.watchdog.close()
        calls = decoder.tool_calls()
        reason = decoder.finish_reason
        if calls and reason in (None, "stop"):
            reason = "tool_calls"  # what some OpenAI-compatible servers say after calls (Ollama: "stop")
        yield Completion(
            model=decoder.model or request.model, finish_reason=reason, usage=decoder.usage, tool_calls=calls
        )

    async def _attempt(
        self, request: ChatRequest, decoder: ChunkDecoder, deadlines: Deadlines
    ) -> AsyncIterator[Delta]:
        """One request to the provider: its answer's thinking, text and tool calls as they arrive, until
        `[DONE]`."""
        deadlines.connecting()
        async with self._request(request) as response:
            read = self.body_reader(response)
            while not decoder.done:
                raw = await deadlines.read(read, decoder.started)
                if not raw:
                    break
                deltas = decoder.feed(raw)
                if decoder.reasoning:
                    yield Reasoning(decoder.reasoning)
                if not deltas:
                    continue
                if type(deltas) is str:
                    yield deltas
                else:
                    for delta in deltas:
                        yield delta
            if decoder.failure is not None:
                raise decoder.failure
            if decoder.done:
                await _drain(read)
            elif decoder.finish_reason is None:
                raise UpstreamCut

    def _wants_completion_tokens(self, request: ChatRequest, exc: BaseException, started: bool) -> bool:
        """Whether `exc` is the model refusing `max_tokens` for `max_completion_tokens`, as OpenAI's
        reasoning models do (400, `param: max_tokens`); if so it is asked that way from now on."""
        if started or request.max_tokens is None or request.model in self._completion_tokens:
            return False
        if not isinstance(exc, openai.BadRequestError):
            return False
        if exc.param != "max_tokens" and "max_completion_tokens" not in str(exc.message):
            return False
        logger.info("%s %s refused max_tokens: asking with max_completion_tokens", self.name, request.model)
        self._completion_tokens.add(request.model)
        return True

    def _failed_attempt(
        self, request: ChatRequest, attempt: int, exc: BaseException, started: bool, deadlines: Deadlines
    ) -> float:
        """Seconds to wait before the next attempt; `StreamError` (the user's sentence) if there is none."""
        failure = classify(exc, model=request.model, provider=self.name, answering=started)
        wait = self._retry_wait(failure, attempt, deadlines.time_left(), started)
        _log_failure(self.name, request.model, attempt, exc, failure, wait)
        self._failed(exc, failure.type)
        if wait is None:
            raise StreamError(failure.message, type=failure.type) from exc
        return wait

    def _timed_out(self, request: ChatRequest, attempt: int, started: bool) -> StreamError:
        """The error for a deadline the watchdog enforced."""
        if started:
            message, type = f"the model went silent for {self.token_gap_timeout:g} s", "provider_stalled"
        else:
            seconds = self.first_token_timeout
            message, type = f"the model did not start answering within {seconds:g} s", "provider_timeout"
        logger.warning("%s %s attempt %d failed: %s", self.name, request.model, attempt + 1, message)
        self._failed(None, type)
        return StreamError(message, type=type)

    @contextlib.asynccontextmanager
    async def _request(self, request: ChatRequest) -> AsyncIterator[httpx2.Response]:
        """The provider's HTTP response to `request`, its body unread (status errors raise here).

        The SDK's documented way to send any request (`client.post`, `cast_to=httpx2.Response`) keeps
        its auth, base URL, Azure deployment URLs and `api-version`, and its status errors, without
        `chat.completions.create`'s type-driven copy of every parameter: 350 µs per request with one
        message and ~140 µs more per message, on the event loop (the docs' design decisions, "The upstream
        HTTP stack").
        """
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_wire_message(m) for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            body["tools"] = list(request.tools)
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            limit = "max_completion_tokens" if request.model in self._completion_tokens else "max_tokens"
            body[limit] = request.max_tokens
        options: dict[str, Any] = {"timeout": self._answer_timeout}
        if request.request_id:
            options["headers"] = {"X-Request-ID": request.request_id}
        response = await self.client.post(
            "/chat/completions", cast_to=httpx2.Response, body=body, options=options, stream=True
        )
        try:
            yield response
        finally:
            await response.aclose()

    def _retry_wait(self, failure: Failure, attempt: int, time_left: float, answering: bool) -> float | None:
        """Seconds to wait before retrying, or None: never once text was shown, nor past the deadline."""
        if answering or not failure.retryable or attempt >= self.retries:
            return None
        if failure.retry_after is not None:
            wait = failure.retry_after
        else:
            wait = FIRST_RETRY_WAIT * 2**attempt * random.uniform(0.75, 1.0)
        if wait > MAX_RETRY_WAIT or wait >= time_left:
            return None
        return wait

    def _failed(self, exc: BaseException | None, type: str) -> None:
        if self._report is not None:
            status = exc.status_code if isinstance(exc, openai.APIStatusError) else None
            self._report(self.name, status, type)


def _wire_message(message: Message) -> dict[str, Any]:
    """A message as OpenAI's chat completions API takes it."""
    if message.tool_calls:
        calls = [
            {"id": c.call_id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
        # An assistant message that only calls tools has no content (`null`, which every server takes).
        return {"role": message.role, "content": message.content or None, "tool_calls": calls}
    if message.tool_call_id is not None:
        return {"role": message.role, "content": message.content, "tool_call_id": message.tool_call_id}
    return {"role": message.role, "content": message.content}


def _log_failure(
    provider: str, model: str, attempt: int, exc: BaseException, failure: Failure, wait: float | None
) -> None:
    """One line an operator can act on: status, error code and request id, never the prompt or a key."""
    detail = type(exc).__name__
    if isinstance(exc, openai.APIStatusError):
        detail = f"status={exc.status_code} code={exc.code} request_id={exc.request_id}"
    elif isinstance(exc, InStreamError):
        detail = f"error event type={exc.error.get('type')} code={exc.error.get('code')}"
    elif isinstance(exc, openai.APIError) and exc.__cause__ is not None:
        detail += f" ({type(exc.__cause__).__name__})"
    outcome = f"retrying in {wait:.2f} s" if wait is not None else "giving up"
    logger.warning(
        "%s %s attempt %d failed: %s [%s]; %s", provider, model, attempt + 1, failure.type, detail, outcome
    )


async def _drain(read: upstream.BodyRead) -> None:
    """Read the end of a finished body briefly, so the pool can reuse the connection."""
    with contextlib.suppress(TimeoutError, *upstream.READ_ERRORS):
        async with asyncio.timeout(DRAIN_SECONDS):
            while await read():
                pass
