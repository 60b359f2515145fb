"""`ChunkDecoder`: the raw bytes of a chat completions SSE stream in, the answer's text and tool calls out.

No pydantic objects: the SDK's per-chunk `ChatCompletionChunk` costs ~67 µs to build (the `sdk-chunks`
contender of `benchmarks/upstream_stack.py`); jiter, the SDK's own JSON parser, reads a chunk in ~1 µs.
"""

from __future__ import annotations

import uuid
from typing import Any

from jiter import from_json

from hybrid._providers.base import Delta, UpstreamError, Usage
from hybrid._wire.parts import ToolCall, ToolCallDelta


class MalformedChunk(UpstreamError):
    """A chunk of the answer is not a JSON object, or a piece of a tool call in it is not one."""

    def __init__(self) -> None:
        super().__init__("a chunk of the answer is not valid JSON", type="provider_malformed")


class InStreamError(UpstreamError):
    """The provider sent an `{"error": ...}` event in the middle of the stream."""

    def __init__(self, error: Any) -> None:
        super().__init__("the provider sent an error event", type="provider_error")
        self.error = error if isinstance(error, dict) else {"message": str(error)}


class ChunkDecoder:
    """Decodes one upstream answer, whatever way its bytes are split into reads.

    `feed` returns the text of every complete event in the bytes it is given, joined: deltas that
    arrive together are written to the browser together, as one event. When those events also hold
    pieces of tool calls, it returns a list instead: the text and the `ToolCallDelta`s in the order
    they came (text-only reads, nearly all of them, stay a plain `str`). Lines end in LF or CRLF (what
    OpenAI, Azure, vLLM and Ollama send; a lone CR is not a line end here); only `data:` fields matter
    to chat completions, and the lines of a multi-line `data` are joined with LF as the SSE standard
    says.

    Tool calls are assembled by their `index` (the id and name come on a call's first piece, the
    arguments in pieces); `tool_calls()` gives them once the answer has ended.

    Reasoning models send their thinking before the answer, in `delta.reasoning_content` (vLLM,
    DeepSeek, SGLang) or `delta.reasoning` (Ollama, OpenRouter): after each `feed`, `reasoning` holds
    the thinking of the events it read (empty if none), which comes before their deltas.

    `started` turns true with the first text, thinking or piece of a tool call passed on (from then on
    a retry would duplicate it, and the model counts as answering for the deadlines); `done` once
    nothing more is to be read: at `[DONE]`, or at a `failure` (an `InStreamError` or a
    `MalformedChunk`), which the reader raises after passing on the deltas that came before it.
    """

    __slots__ = (
        "_calls",
        "_pending",
        "_thinking",
        "_tool_pieces",
        "done",
        "failure",
        "finish_reason",
        "model",
        "reasoning",
        "started",
        "usage",
    )

    def __init__(self) -> None:
        self._pending = b""  # the start of an event whose blank line has not arrived yet
        self._calls: list[_Call] = []
        self._tool_pieces = False  # the read being decoded holds a piece of a tool call
        self._thinking: list[str] = []  # the reasoning of the events being read
        self.reasoning = ""
        self.started = False
        self.done = False
        self.failure: InStreamError | MalformedChunk | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage: Usage | None = None

    def feed(self, raw: bytes) -> str | list[Delta]:
        """The deltas of the events `raw` completes, up to `[DONE]` or a failure (empty if none)."""
        buffer = self._pending + raw if self._pending else raw
        if b"\r" in buffer:  # a CR held back from the last read joins the LF that follows it here
            buffer = buffer.replace(b"\r\n", b"\n")
        blocks = buffer.split(b"\n\n")
        self._pending = blocks.pop()
        deltas: list[Any] = []
        self.reasoning = ""
        for block in blocks:
            # The usual event is one `data: ` line; anything else is read line by line.
            payload = block[6:] if block[:6] == b"data: " and b"\n" not in block else _data(block)
            if payload is None:
                continue  # a comment or an event with no data
            try:
                self._event(payload, deltas)
            except (InStreamError, MalformedChunk) as exc:
                self.failure, self.done = exc, True
            if self.done:
                break
        if self._thinking:
            self.reasoning = "".join(self._thinking)
            self._thinking.clear()
            self.started = True
        if not deltas:
            return ""
        self.started = True
        if self._tool_pieces:
            self._tool_pieces = False
            return _joined(deltas)
        return deltas[0] if len(deltas) == 1 else "".join(deltas)

    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls the answer made, assembled, in their order."""
        return tuple(ToolCall(call.id, call.name, "".join(call.arguments)) for call in self._calls)

    def _event(self, payload: bytes, deltas: list[Any]) -> None:
        if payload == b"[DONE]":
            self.done = True
            return
        try:
            chunk = from_json(payload)
        except ValueError:
            raise MalformedChunk from None
        if not isinstance(chunk, dict):
            raise MalformedChunk
        if chunk.get("error"):
            raise InStreamError(chunk["error"])
        choices = chunk.get("choices")
        if choices:
            choice = choices[0]
            delta = choice.get("delta")
            if delta:
                text = delta.get("content")
                if text:
                    deltas.append(text)
                thinking = delta.get("reasoning_content") or delta.get("reasoning")
                if thinking and isinstance(thinking, str):
                    self._thinking.append(thinking)
                fragments = delta.get("tool_calls")
                if fragments:
                    self._tool_fragments(fragments, deltas)
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = reason
        usage = chunk.get("usage")
        if usage:
            self.usage = Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        if self.model is None:
            self.model = chunk.get("model")

    def _tool_fragments(self, fragments: Any, deltas: list[Any]) -> None:
        """Add the pieces of tool calls in one chunk to their calls, and pass each on as it came."""
        if not isinstance(fragments, list):
            raise MalformedChunk
        for fragment in fragments:
            if not isinstance(fragment, dict):
                raise MalformedChunk
            function = fragment.get("function")
            if function is None:
                function = {}
            if not isinstance(function, dict):
                raise MalformedChunk
            call_id, name, arguments = fragment.get("id"), function.get("name"), function.get("arguments")
            if not all(isinstance(value, str | None) for value in (call_id, name, arguments)):
                raise MalformedChunk
            index = self._index_of(fragment.get("index"), call_id)
            call = self._calls[index]
            fresh = call.named(call_id, name)
            if arguments:
                call.arguments.append(arguments)
            if fresh or arguments:
                deltas.append(ToolCallDelta(index, call.id, call.name, arguments or ""))
                self._tool_pieces = True

    def _index_of(self, index: Any, call_id: str | None) -> int:
        """Which call a piece belongs to, counted from 0 in the order the calls came.

        OpenAI numbers the calls (`index`; some gateways start past 0). A server that does not is read
        by ids: a new id starts a call, a piece without one continues the last.
        """
        calls = self._calls
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise MalformedChunk
            known = next((i for i, call in enumerate(calls) if call.index == index), None)
        else:
            known = next((i for i, call in enumerate(calls) if call_id and call.id == call_id), None)
            if known is None and not call_id and calls:
                known = len(calls) - 1
        if known is not None:
            return known
        calls.append(_Call(index))
        return len(calls) - 1


class _Call:
    """A tool call being assembled from its pieces."""

    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int | None) -> None:
        self.index = index  # the server's number for it, if it sends one
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []

    def named(self, call_id: str | None, name: str | None) -> bool:
        """Take the id and name a piece brings (the first ones count; a server may repeat them); True
        when this is the call's first piece."""
        fresh = not self.id
        if fresh:
            self.id = call_id or f"call_{uuid.uuid4().hex[:24]}"
        if name and name != self.name:
            self.name = name if not self.name else self.name + name
        return fresh


def _joined(deltas: list[Any]) -> list[Delta]:
    """`deltas` with the texts that follow one another joined, as a text-only read is."""
    joined: list[Delta] = []
    for delta in deltas:
        if type(delta) is str and joined and type(joined[-1]) is str:
            joined[-1] += delta
        else:
            joined.append(delta)
    return joined


def _data(block: bytes) -> bytes | None:
    """The data of one event's lines (`data:` with or without its space, joined by LF), or None."""
    lines = [
        line[6:] if line[5:6] == b" " else line[5:] for line in block.split(b"\n") if line[:5] == b"data:"
    ]
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else b"\n".join(lines)
