"""OpenAI, OpenAI-compatible servers (vLLM, Ollama, llama.cpp, LM Studio) and Azure OpenAI, through the SDK.

One `AsyncOpenAI` (or `AsyncAzureOpenAI`) client per process does auth, URLs, connection pooling and TLS.
The answer itself is read from the SDK's raw streaming response and parsed with jiter (the SDK's own
JSON parser): `benchmarks/provider_cost.py` measured the SDK's per-chunk pydantic objects at about a
third of the server's CPU per token (numbers in the README).

Retries happen only before the first text (never duplicating text), within the first-token deadline, and
by this module rather than the SDK, so a long `Retry-After` is reported to the user at once instead of
waited out in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from jiter import from_json

from hybrid.errors import StreamError
from hybrid.providers.base import ChatRequest, Completion, FailureReport, Reply, Usage

logger = logging.getLogger("hybrid.providers.openai")

MAX_RETRY_WAIT = 4.0
"""Longest pause before a retry, in seconds; a provider asking for longer is reported to the user."""
FIRST_RETRY_WAIT = 0.5
DRAIN_SECONDS = 0.1
"""After `[DONE]`, how long to wait for the end of the body, so the connection can be reused."""


def sdk_options(
    *, connect_timeout: float, first_token_timeout: float, token_gap_timeout: float
) -> dict[str, Any]:
    """The SDK client options hybrid needs: chat-sized timeouts and no SDK retries (this module retries).

    The read timeout is only a backstop: `Watchdog` enforces the first-token and gap deadlines.
    """
    read = max(first_token_timeout, token_gap_timeout) + 1.0
    return {
        "timeout": openai.Timeout(read, connect=connect_timeout, write=connect_timeout, pool=connect_timeout),
        "max_retries": 0,
    }


class OpenAIProvider:
    """Chat answers from an OpenAI-compatible API through an SDK client this provider owns and closes.

    `models` are offered to the user (for Azure: deployment names). `first_token_timeout` bounds the time
    from the request to the first text, retries included; `token_gap_timeout` the silence between chunks.
    """

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

    def reply(self, request: ChatRequest) -> Reply:
        return Reply(self._generate(request))

    def report_failures(self, report: FailureReport) -> None:
        """Call `report(name, status, type)` for each failed attempt (retried or not)."""
        self._report = report

    async def ping(self, timeout: float) -> None:
        """Raise unless the provider lists its models within `timeout` seconds (`/readyz`; costs nothing)."""
        await self.client.models.list(timeout=timeout)

    async def aclose(self) -> None:
        """Close the client's connection pool."""
        await self.client.close()

    async def _generate(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        loop = asyncio.get_running_loop()
        gap = self.token_gap_timeout
        first_token_due = loop.time() + self.first_token_timeout
        watchdog = Watchdog()
        decoder = ChunkDecoder()
        attempt = 0
        try:
            while True:
                watchdog.expect(first_token_due)  # covers connecting and the response headers
                try:
                    async with self._stream(request) as response:
                        chunks = response.http_response.aiter_bytes()
                        while not decoder.done:
                            watchdog.expect(loop.time() + gap if decoder.started else first_token_due)
                            try:
                                raw = await chunks.__anext__()
                            except StopAsyncIteration:
                                break
                            finally:
                                watchdog.due = None
                            text = decoder.feed(raw)
                            if text:
                                decoder.started = True
                                yield text
                        if decoder.done:
                            await _drain(chunks)
                        elif decoder.finish_reason is None:
                            raise StreamCut
                    break
                except UPSTREAM_ERRORS as exc:
                    failure = classify(
                        exc, model=request.model, provider=self.name, answering=decoder.started
                    )
                    wait = self._retry_wait(failure, attempt, first_token_due - loop.time(), decoder.started)
                    _log_failure(self.name, request.model, attempt, exc, failure, wait)
                    self._failed(exc, failure.type)
                    if wait is None:
                        raise StreamError(failure.message, type=failure.type) from exc
                    attempt += 1
                    decoder = ChunkDecoder()
                    await asyncio.sleep(wait)
        except asyncio.CancelledError:
            if not watchdog.expired():
                raise
            if decoder.started:
                message, type = f"the model went silent for {gap:g} s", "provider_stalled"
            else:
                seconds = self.first_token_timeout
                message, type = f"the model did not start answering within {seconds:g} s", "provider_timeout"
            logger.warning("%s %s attempt %d failed: %s", self.name, request.model, attempt + 1, message)
            self._failed(None, type)
            raise StreamError(message, type=type) from None
        finally:
            watchdog.close()
        yield Completion(
            model=decoder.model or request.model, finish_reason=decoder.finish_reason, usage=decoder.usage
        )

    def _stream(self, request: ChatRequest) -> Any:
        """The SDK's raw streaming response for `request` (an async context manager)."""
        params: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.request_id:
            params["extra_headers"] = {"X-Request-ID": request.request_id}
        return self.client.chat.completions.with_streaming_response.create(**params)

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


class StreamCut(Exception):
    """The answer's body ended before `[DONE]` and before a finish reason."""


class MalformedChunk(Exception):
    """A chunk of the answer is not a JSON object."""


class InStreamError(Exception):
    """The provider sent an `{"error": ...}` event in the middle of the stream."""

    def __init__(self, error: Any) -> None:
        super().__init__("error event")
        self.error = error if isinstance(error, dict) else {"message": str(error)}


UPSTREAM_ERRORS = (openai.APIError, httpx2.RequestError, StreamCut, InStreamError, MalformedChunk)
"""What can go wrong between hybrid and the provider; everything else is a bug and shown as one."""


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong, as the user should read it, and whether a retry may help."""

    message: str
    type: str
    retryable: bool = False
    retry_after: float | None = None


def classify(exc: BaseException, *, model: str, provider: str, answering: bool) -> Failure:
    """The `Failure` an SDK or transport exception means for the user."""
    if isinstance(exc, openai.APIStatusError):
        return _status_failure(exc, model=model, provider=provider)
    if isinstance(exc, openai.APITimeoutError):
        if isinstance(exc.__cause__, httpx2.ConnectTimeout | httpx2.PoolTimeout):
            return Failure("could not connect to the model provider in time", "provider_unreachable", True)
        return Failure("the model provider did not respond in time", "provider_timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("could not reach the model provider", "provider_unreachable", True)
    if isinstance(exc, InStreamError):
        return Failure("the model provider reported an error while answering", "provider_error")
    if isinstance(exc, MalformedChunk):
        return Failure("the model provider sent an answer that is not valid JSON", "provider_malformed")
    # A transport error or a body cut short while reading the answer.
    if answering:
        return Failure("the connection to the model provider broke mid-answer", "provider_cut")
    return Failure("the connection to the model provider broke", "provider_cut", True)


def _status_failure(exc: openai.APIStatusError, *, model: str, provider: str) -> Failure:
    status, code = exc.status_code, exc.code
    if status == 400:
        if code == "context_length_exceeded":
            return Failure(
                "the conversation is too long for this model; start a new chat", "provider_bad_request"
            )
        if code in ("content_filter", "content_policy_violation"):
            return Failure("the provider's content filter blocked this request", "provider_content_filter")
        return Failure("the model provider rejected the request (400)", "provider_bad_request")
    if status == 401:
        return Failure("the model provider did not accept the server's API key (401)", "provider_auth")
    if status == 403:
        return Failure(f"the server may not use the model {model} (403)", "provider_forbidden")
    if status == 404:
        what = "deployment" if provider == "azure" else "model"
        return Failure(f"the model provider has no {what} named {model} (404)", "provider_not_found")
    if status == 429:
        if code == "insufficient_quota":
            return Failure("the model provider account is out of quota (429)", "provider_quota")
        retry_after = _retry_after(exc.response.headers)
        when = f"in {math.ceil(retry_after)} s" if retry_after is not None else "in a moment"
        return Failure(
            f"the provider is rate limiting; retry {when}", "provider_rate_limited", True, retry_after
        )
    if status in (408, 409) or status >= 500:
        retry_after = _retry_after(exc.response.headers)
        return Failure(
            f"the model provider is having trouble ({status}); retry in a moment",
            "provider_unavailable",
            True,
            retry_after,
        )
    return Failure(f"the model provider rejected the request ({status})", "provider_bad_request")


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (as a number); None if absent or unusable."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


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


class ChunkDecoder:
    """Turns the raw bytes of a chat completions SSE stream into text, with no pydantic objects.

    `feed` returns the text of every complete event in the bytes it is given, joined: deltas that arrive
    together are written to the browser together. Lines end in LF or CRLF (what OpenAI, Azure, vLLM and
    Ollama send); only `data:` fields matter to chat completions.
    """

    __slots__ = ("_data", "_pending", "done", "finish_reason", "model", "started", "usage")

    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []
        self.started = False  # text was passed on: a retry would duplicate it
        self.done = False
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage: Usage | None = None

    def feed(self, raw: bytes) -> str:
        lines = (self._pending + raw).split(b"\n") if self._pending else raw.split(b"\n")
        self._pending = lines.pop()
        texts: list[str] = []
        data = self._data
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if line:
                if line[:5] == b"data:":
                    data.append(line[6:] if line[5:6] == b" " else line[5:])
                continue
            if data:
                payload = data[0] if len(data) == 1 else b"\n".join(data)
                data.clear()
                text = self._event(payload)
                if text:
                    texts.append(text)
        return texts[0] if len(texts) == 1 else "".join(texts)

    def _event(self, payload: bytes) -> str | None:
        if payload == b"[DONE]":
            self.done = True
            return None
        try:
            chunk = from_json(payload)
        except ValueError:
            raise MalformedChunk from None
        if not isinstance(chunk, dict):
            raise MalformedChunk
        if chunk.get("error"):
            raise InStreamError(chunk["error"])
        text = None
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta")
            if delta:
                text = delta.get("content")
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = reason
        usage = chunk.get("usage")
        if usage:
            self.usage = Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        if self.model is None:
            self.model = chunk.get("model")
        return text


class Watchdog:
    """Cancels the task awaiting the provider once a wait outlives its deadline (`due`, loop time).

    Like `asyncio.timeout`, but a chunk costs two attribute writes rather than a new timer: the timer is
    re-armed only when it fires early. `due` is None while the reader is not waiting on the provider,
    e.g. while the consumer writes a delta to the browser.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "a Watchdog guards the task that creates it"
        self._task = task
        self._cancelling = task.cancelling()
        self._handle: asyncio.TimerHandle | None = None
        self._fired = False
        self.due: float | None = None

    def expect(self, due: float) -> None:
        """Expect data by `due`. Cheap when deadlines only move later, as they do between chunks."""
        self.due = due
        handle = self._handle
        if handle is None or due < handle.when():
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(due, self._check)

    def _check(self) -> None:
        self._handle = None
        due = self.due
        if due is None:
            return  # the reader is busy elsewhere; the next wait re-arms
        if self._loop.time() >= due:
            self._fired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(due, self._check)

    def expired(self) -> bool:
        """Whether the cancellation being handled is this watchdog's (and nobody else's)."""
        return self._fired and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read the end of a finished body briefly, so the pool can reuse the connection."""
    with contextlib.suppress(TimeoutError, httpx2.RequestError):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
