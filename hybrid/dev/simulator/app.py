"""The simulator app: OpenAI's chat completions API (and Azure's URL shape), paced and faulty on demand.

Routes:

* `POST /v1/chat/completions` and `POST /openai/deployments/{deployment}/chat/completions?api-version=...`
  answer streamed (`"stream": true`, SSE chunks, a usage chunk with `stream_options.include_usage`) or not,
  with text or, when asked (`hybrid.dev.simulator.tools`), with calls of the tools the request offers;
* `GET /v1/models` lists the model;
* `GET /_sim/requests` is the request log: when each request started, sent its first content, and when its
  connection closed (epoch seconds, `time.time()`), and how it ended; `DELETE /_sim/requests` clears it.

With `reasoning=N` it streams N chunks of thinking first, as reasoning models do; with
`rejects_max_tokens=1` it refuses `max_tokens` as OpenAI's reasoning models do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from hybrid.dev.simulator import tools
from hybrid.dev.simulator.scenario import (
    DirectiveError,
    Scenario,
    answer_tokens,
    split_model,
    thinking_tokens,
)

_COMPACT = (",", ":")
LOG_SIZE = 10_000
"""Requests the log keeps (the oldest are dropped), so long benchmarks run in bounded memory."""


class SimulatedCut(Exception):
    """Raised after the response started: uvicorn then drops the connection mid-body."""


@dataclass(slots=True)
class RequestRecord:
    """What the simulator saw of one request. Times are `time.time()` seconds."""

    id: int
    path: str
    model: str
    stream: bool
    auth: str | None
    """`bearer` (OpenAI style), `api-key` (Azure style) or None."""
    api_version: str | None
    include_usage: bool
    started: float
    first_content: float | None = None
    closed: float | None = None
    outcome: str = "open"
    """`completed`, `client_closed`, `status`, `cut` or `error_event` (`open` while it runs)."""
    chunks: int = 0
    """Content chunks sent (in a tool round: pieces of calls)."""
    request_id: str | None = None
    """The request's `X-Request-ID` header."""
    limit_param: str | None = None
    """How the answer's length was limited: `max_tokens`, `max_completion_tokens` or None."""
    tools_offered: list[str] = field(default_factory=list)
    """The names of the tools the request offered."""
    tool_calls_sent: list[dict[str, str]] = field(default_factory=list)
    """The calls this answer made: `id`, `name`, `arguments`."""
    tool_calls_received: list[dict[str, Any]] = field(default_factory=list)
    """The calls of the request's assistant messages, as it sent them."""
    tool_results_received: list[dict[str, Any]] = field(default_factory=list)
    """The request's `tool` messages: `tool_call_id` and `content`."""

    def close(self, outcome: str, at: float | None = None) -> None:
        self.outcome = outcome
        self.closed = at or time.time()


class Simulator:
    """State shared by the routes: default scenario, credentials, request log and fault counters."""

    def __init__(self, scenario: Scenario, *, api_key: str | None = None, model: str = "sim") -> None:
        self.scenario = scenario
        self.api_key = api_key
        self.model = model
        self.log: deque[RequestRecord] = deque(maxlen=LOG_SIZE)
        self._next_id = 0
        self._faults_given: Counter[str] = Counter()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/openai/deployments/{deployment}/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/_sim/requests", self.requests, methods=["GET", "DELETE"]),
            ]
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "hybrid"}]}
        )

    async def requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.log.clear()
        return JSONResponse({"requests": [asdict(record) for record in self.log]})

    async def chat(self, request: Request) -> Any:
        auth = _auth_kind(request)
        if self.api_key is not None and _credential(request) != self.api_key:
            return _error(401, "invalid_api_key", "Incorrect API key provided.", "invalid_request_error")
        deployment = request.path_params.get("deployment")
        api_version = request.query_params.get("api-version")
        if deployment is not None and not api_version:
            return _error(404, "404", "Resource not found (api-version is missing).", "invalid_request_error")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, None, "The body is not valid JSON.", "invalid_request_error")
        model = deployment or (body.get("model") if isinstance(body, dict) else None)
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(model, str) or not isinstance(messages, list):
            return _error(400, None, "`model` and `messages` are required.", "invalid_request_error")
        directives = split_model(model)[1] + "+" + request.headers.get("x-sim", "")
        try:
            scenario = self.scenario.with_directives(directives)
        except DirectiveError as exc:
            return _error(400, "invalid_directive", str(exc), "invalid_request_error")
        if scenario.faulty and scenario.fail_times is not None:
            self._faults_given[directives] += 1
            if self._faults_given[directives] > scenario.fail_times:
                scenario = scenario.without_faults()

        stream_options = body.get("stream_options") or {}
        self._next_id += 1
        record = RequestRecord(
            id=self._next_id,
            path=request.url.path,
            model=model,
            stream=bool(body.get("stream")),
            auth=auth,
            api_version=api_version,
            include_usage=bool(stream_options.get("include_usage")),
            started=time.time(),
            request_id=request.headers.get("x-request-id"),
            limit_param=next((key for key in ("max_tokens", "max_completion_tokens") if key in body), None),
            **_tool_traffic(body),
        )
        self.log.append(record)
        if scenario.rejects_max_tokens and "max_tokens" in body:
            record.close("status")
            return _error(
                400,
                "unsupported_parameter",
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "invalid_request_error",
                param="max_tokens",
            )
        if scenario.status is not None:
            record.close("status")
            headers = {} if scenario.retry_after is None else {"Retry-After": f"{scenario.retry_after:g}"}
            return _status_error(scenario.status, headers)
        answer = Answer(scenario, record, body)
        return answer if record.stream else await answer.complete(request)


class Answer:
    """One simulated answer: an ASGI app that streams it, or `complete()` for the whole JSON at once."""

    def __init__(self, scenario: Scenario, record: RequestRecord, body: dict[str, Any]) -> None:
        self.scenario = scenario
        self.record = record
        self.id = f"chatcmpl-sim-{record.id}"
        self.created = int(record.started)
        calls = tools.calls_wanted(scenario, body, prefix=f"call_sim{record.id}")
        self.chunks: list[str] = []
        """The text of each content chunk; empty in a tool round."""
        self.tool_calls = tools.message_calls(calls)
        if calls:
            record.tool_calls_sent = calls
            self.deltas = tools.fragments(calls, scenario.tool_chunk_chars, bool(scenario.tool_interleave))
            self.finish_reason = "tool_calls"
            count = len(self.deltas)
        else:
            max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
            count = scenario.tokens if max_tokens is None else min(scenario.tokens, int(max_tokens))
            self.finish_reason = "length" if count < scenario.tokens else "stop"
            tokens = answer_tokens(count)
            step = scenario.tokens_per_chunk
            self.chunks = ["".join(tokens[i : i + step]) for i in range(0, count, step)]
            self.deltas = [
                json.dumps({"content": chunk}, ensure_ascii=False, separators=_COMPACT)
                for chunk in self.chunks
            ]
        self.thinking = thinking_tokens(scenario.reasoning)
        self.usage = {
            "prompt_tokens": _prompt_tokens(body.get("messages", [])),
            "completion_tokens": count,
            "total_tokens": 0,
        }
        self.usage["total_tokens"] = self.usage["prompt_tokens"] + count

    async def complete(self, request: Request) -> Response:
        """The non-streaming answer, after as long as streaming it would take."""
        scenario, record = self.scenario, self.record
        if scenario.cut_after is not None or scenario.error_after is not None:
            record.close("status")
            return _status_error(500, {})
        loop = asyncio.get_running_loop()
        seconds = (scenario.ttft_ms + scenario.token_ms * max(len(self.deltas) - 1, 0)) / 1000
        ready = loop.time() + (float("inf") if scenario.stall_after is not None else seconds)
        while (remaining := ready - loop.time()) > 0:
            if await request.is_disconnected():
                record.close("client_closed")
                return Response(status_code=499)
            await asyncio.sleep(min(remaining, 0.05))
        self.record.chunks = len(self.deltas)
        self.record.close("completed")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.chunks), "refusal": None}
        if self.thinking:
            message[self.scenario.reasoning_field] = "".join(self.thinking)
        if self.tool_calls:
            message.update(content=None, tool_calls=self.tool_calls)
        return JSONResponse(
            {
                "id": self.id,
                "object": "chat.completion",
                "created": self.created,
                "model": self.record.model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": self.usage,
            }
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        produce = loop.create_task(self._produce(send))
        disconnect = loop.create_task(_wait_disconnect(receive))
        try:
            await asyncio.wait((produce, disconnect), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not produce.done():
                produce.cancel()
                self.record.close("client_closed", disconnect.result() if disconnect.done() else None)
            disconnect.cancel()
        if produce.done() and not produce.cancelled():
            produce.result()  # re-raises SimulatedCut, so uvicorn drops the connection

    async def _produce(self, send: Send) -> None:
        scenario, record = self.scenario, self.record
        loop = asyncio.get_running_loop()
        usage_null = ',"usage":null' if record.include_usage else ""
        head = (
            f'data: {{"id":"{self.id}","object":"chat.completion.chunk","created":{self.created},'
            f'"model":{json.dumps(record.model)},"system_fingerprint":null,"choices":['
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream; charset=utf-8")],
            }
        )
        role = '{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}'
        await _body(send, f"{head}{role}]{usage_null}}}\n\n")
        due = loop.time() + scenario.ttft_ms / 1000
        for thought in self.thinking:  # paced like the answer; `first_content` is the answer's
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            delta = f'{{"{scenario.reasoning_field}":{json.dumps(thought, ensure_ascii=False)}}}'
            choice = f'{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":null}}'
            await _body(send, f"{head}{choice}]{usage_null}}}\n\n")
            due += scenario.token_ms / 1000
        for index in range(len(self.deltas) + 1):
            if index == scenario.cut_after:
                record.close("cut")
                raise SimulatedCut
            if index == scenario.stall_after:
                await asyncio.Event().wait()  # until the client gives up
            if index == scenario.error_after:
                error = {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                        "param": None,
                        "code": None,
                    }
                }
                await _body(send, f"data: {json.dumps(error)}\n\n", more=False)
                record.close("error_event")
                return
            if index == len(self.deltas):
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            choice = f'{{"index":0,"delta":{self.deltas[index]},"logprobs":null,"finish_reason":null}}'
            await _body(send, f"{head}{choice}]{usage_null}}}\n\n")
            if index == 0:
                record.first_content = time.time()
            record.chunks = index + 1
            jitter = random.uniform(-scenario.jitter_ms, scenario.jitter_ms) if scenario.jitter_ms else 0.0
            due += max(scenario.token_ms + jitter, 0.0) / 1000
        finish = f'{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"{self.finish_reason}"}}'
        tail = f"{head}{finish}]{usage_null}}}\n\n"
        if record.include_usage:
            tail += f'{head}],"usage":{json.dumps(self.usage)}}}\n\n'
        await _body(send, tail + "data: [DONE]\n\n", more=False)
        record.close("completed")


async def _body(send: Send, text: str, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": text.encode(), "more_body": more})


async def _wait_disconnect(receive: Receive) -> float:
    while (await receive())["type"] != "http.disconnect":
        pass
    return time.time()


def _tool_traffic(body: dict[str, Any]) -> dict[str, Any]:
    """What a request's body holds of tools: the tools offered, the calls and results sent back."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    return {
        "tools_offered": [
            spec["function"].get("name")
            for spec in body.get("tools") or []
            if isinstance(spec, dict) and isinstance(spec.get("function"), dict)
        ],
        "tool_calls_received": [
            call for m in messages if m.get("role") == "assistant" for call in m.get("tool_calls") or []
        ],
        "tool_results_received": [
            {"tool_call_id": m.get("tool_call_id"), "content": m.get("content")}
            for m in messages
            if m.get("role") == "tool"
        ],
    }


def _prompt_tokens(messages: list[Any]) -> int:
    return sum(
        len(message["content"].split())
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


def _auth_kind(request: Request) -> str | None:
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return "bearer"
    return "api-key" if "api-key" in request.headers else None


def _credential(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:]
    return request.headers.get("api-key")


_STATUS_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request (simulated)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (simulated)."),
    403: ("permission_error", None, "You are not allowed to use this model (simulated)."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist (simulated)."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached (simulated)."),
}


def _status_error(status: int, headers: dict[str, str]) -> JSONResponse:
    type, code, message = _STATUS_ERRORS.get(
        status, ("server_error", None, "The server had an error (simulated).")
    )
    return _error(status, code, message, type, headers)


def _error(
    status: int,
    code: str | None,
    message: str,
    type: str,
    headers: dict[str, str] | None = None,
    *,
    param: str | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class _HideSimulatedCuts(logging.Filter):
    """uvicorn logs an app exception as a crash; a simulated cut is the simulator working as asked."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], SimulatedCut))


def hide_simulated_cuts() -> None:
    logging.getLogger("uvicorn.error").addFilter(_HideSimulatedCuts())
