"""`ChunkDecoder`: the raw bytes of a chat completions SSE stream in, the answer's text out.

No pydantic objects: the SDK's per-chunk `ChatCompletionChunk` costs ~67 µs to build (the `sdk-chunks`
contender of `benchmarks/upstream_stack.py`); jiter, the SDK's own JSON parser, reads a chunk in ~1 µs.
"""

from __future__ import annotations

from typing import Any

from jiter import from_json

from hybrid.providers.base import Usage


class MalformedChunk(Exception):
    """A chunk of the answer is not a JSON object."""


class InStreamError(Exception):
    """The provider sent an `{"error": ...}` event in the middle of the stream."""

    def __init__(self, error: Any) -> None:
        super().__init__("error event")
        self.error = error if isinstance(error, dict) else {"message": str(error)}


class ChunkDecoder:
    """Decodes one upstream answer, whatever way its bytes are split into reads.

    `feed` returns the text of every complete event in the bytes it is given, joined: deltas that
    arrive together are written to the browser together, as one event. Lines end in LF or CRLF (what
    OpenAI, Azure, vLLM and Ollama send; a lone CR is not a line end here); only `data:` fields matter
    to chat completions, and the lines of a multi-line `data` are joined with LF as the SSE standard
    says.

    Reasoning models send their thinking before the answer, in `delta.reasoning_content` (vLLM,
    DeepSeek, SGLang) or `delta.reasoning` (Ollama, OpenRouter): after each `feed`, `reasoning` holds
    the thinking of the events it read (empty if none), which comes before their text.

    `started` turns true with the first text or thinking passed on (from then on a retry would
    duplicate it, and the model counts as answering for the deadlines); `done` once nothing more is to
    be read: at `[DONE]`, or at a `failure` (an `InStreamError` or a `MalformedChunk`), which the reader
    raises after passing on the text that came before it.
    """

    __slots__ = (
        "_pending",
        "_thinking",
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
        self._thinking: list[str] = []  # the reasoning of the events being read
        self.reasoning = ""
        self.started = False
        self.done = False
        self.failure: InStreamError | MalformedChunk | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage: Usage | None = None

    def feed(self, raw: bytes) -> str:
        """The text of the events `raw` completes, up to `[DONE]` or a failure (empty if none)."""
        buffer = self._pending + raw if self._pending else raw
        if b"\r" in buffer:  # a CR held back from the last read joins the LF that follows it here
            buffer = buffer.replace(b"\r\n", b"\n")
        blocks = buffer.split(b"\n\n")
        self._pending = blocks.pop()
        texts: list[str] = []
        self.reasoning = ""
        for block in blocks:
            # The usual event is one `data: ` line; anything else is read line by line.
            payload = block[6:] if block[:6] == b"data: " and b"\n" not in block else _data(block)
            if payload is None:
                continue  # a comment or an event with no data
            try:
                text = self._event(payload)
            except (InStreamError, MalformedChunk) as exc:
                self.failure, self.done, text = exc, True, None
            if text:
                texts.append(text)
            if self.done:
                break
        if self._thinking:
            self.reasoning = "".join(self._thinking)
            self._thinking.clear()
            self.started = True
        if not texts:
            return ""
        self.started = True
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
            if delta:  # (the place tool-call deltas will be read)
                text = delta.get("content")
                thinking = delta.get("reasoning_content") or delta.get("reasoning")
                if thinking and isinstance(thinking, str):
                    self._thinking.append(thinking)
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reason = reason
        usage = chunk.get("usage")
        if usage:
            self.usage = Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0)
        if self.model is None:
            self.model = chunk.get("model")
        return text


def _data(block: bytes) -> bytes | None:
    """The data of one event's lines (`data:` with or without its space, joined by LF), or None."""
    lines = [
        line[6:] if line[5:6] == b" " else line[5:] for line in block.split(b"\n") if line[:5] == b"data:"
    ]
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else b"\n".join(lines)
