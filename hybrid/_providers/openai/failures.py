"""What an upstream failure means for the user: one sentence, an error type, and whether to retry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from hybrid._providers.base import UpstreamError
from hybrid._providers.openai import upstream
from hybrid._providers.openai.chunks import InStreamError, MalformedChunk


class UpstreamCut(UpstreamError):
    """The answer's body ended before `[DONE]` and before a finish reason."""

    def __init__(self) -> None:
        super().__init__("the answer's body ended before [DONE]", type="provider_cut")


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
        if upstream.refused(exc):
            return Failure("could not reach the model provider", "provider_unreachable", True)
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
