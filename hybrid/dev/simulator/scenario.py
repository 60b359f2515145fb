"""How the simulator answers one request: timing, length and the fault to inject.

The server's defaults come from its command line. One request changes them with directives, either in
the model name (`sim+status=429+retry_after=20`, which also works as an Azure deployment name) or in the
`X-Sim` header (`status=429+retry_after=20`), so one simulator serves many tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from itertools import cycle, islice

_CORPUS = """\
Streaming keeps a chat responsive: the first words appear while the model is still writing the rest. \
This answer comes from the **hybrid simulator**, an OpenAI-compatible server for tests and benchmarks.

It can be slow, fast, or broken on purpose:

- a delay before the first token and between tokens, with jitter;
- an error status such as `429` with `Retry-After`;
- a connection cut, or a stall, in the middle of the answer.

```python
print("every token here is predictable")
```

"""


_THINKING = """\
The user asks a question; let me think it through before I answer. First, what do they need to know? \
Then, which facts matter, and in what order? A short, clear answer will do. \
"""


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for word in text.split(" "):
        tokens.append(" " + word if tokens else word)
    return tokens


CORPUS_TOKENS = _tokens(_CORPUS)
THINKING_TOKENS = _tokens(_THINKING)


def answer_tokens(count: int) -> list[str]:
    """The first `count` tokens every simulated answer is made of (the corpus, repeated)."""
    return list(islice(cycle(CORPUS_TOKENS), count))


def thinking_tokens(count: int) -> list[str]:
    """The first `count` tokens of a simulated reasoning model's thinking."""
    return list(islice(cycle(THINKING_TOKENS), count))


class DirectiveError(ValueError):
    """A directive the simulator does not understand."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One answer's behaviour. Times are in milliseconds; `None` means the fault is off."""

    ttft_ms: float = 200.0
    token_ms: float = 20.0
    jitter_ms: float = 0.0
    tokens: int = 100
    tokens_per_chunk: int = 1
    status: int | None = None
    """Answer with this HTTP status (and an OpenAI-style error body) instead of an answer."""
    retry_after: float | None = None
    """Seconds for the `Retry-After` header sent with `status`."""
    cut_after: int | None = None
    """Close the connection abruptly after this many content chunks."""
    stall_after: int | None = None
    """Stop sending, but keep the connection open, after this many content chunks."""
    error_after: int | None = None
    """Send an in-stream `{"error": ...}` event after this many content chunks, then end."""
    fail_times: int | None = None
    """Inject the fault only into the first `fail_times` requests with the same directives."""
    tag: str = ""
    """Free text that makes directives unique (separate `fail_times` counters per test)."""
    reasoning: int = 0
    """Stream this many chunks of thinking before the answer, as reasoning models do."""
    reasoning_field: str = "reasoning_content"
    """The delta field the thinking comes in: `reasoning_content` (vLLM, DeepSeek, SGLang) or
    `reasoning` (Ollama, OpenRouter)."""
    rejects_max_tokens: int = 0
    """1: refuse `max_tokens` with OpenAI's 400 for reasoning models (it wants `max_completion_tokens`)."""
    tools: str = ""
    """Call tools instead of answering: the first N the request offers (`2`), or names (`a,b`)."""
    tool_args: str = ""
    """The calls' arguments by tool name, as JSON: an object is sent as JSON, a string as it is (so
    `{"top_products": "{not json"}` sends broken JSON); other tools get arguments made from their schema."""
    tool_chunk_chars: int = 0
    """Stream a call's arguments this many characters per chunk (0: all at once)."""
    tool_interleave: int = 0
    """1: alternate the chunks of parallel calls; 0: one call after the other, as OpenAI does."""
    tool_rounds: int = 1
    """Answer with calls while the conversation since the last user message has fewer rounds of calls
    than this; then in text. A large number makes a model that calls tools forever."""

    def __post_init__(self) -> None:
        for name in ("ttft_ms", "token_ms", "jitter_ms"):
            if getattr(self, name) < 0:
                raise DirectiveError(f"{name} must not be negative")
        if self.tokens < 0 or self.tokens_per_chunk < 1:
            raise DirectiveError("tokens must not be negative and tokens_per_chunk must be at least 1")
        if self.status is not None and not 400 <= self.status <= 599:
            raise DirectiveError("status must be an error status, 400 to 599")
        if self.reasoning < 0:
            raise DirectiveError("reasoning must not be negative")
        if self.reasoning_field not in ("reasoning_content", "reasoning"):
            raise DirectiveError("reasoning_field must be reasoning_content or reasoning")
        if self.tool_chunk_chars < 0 or self.tool_rounds < 0:
            raise DirectiveError("tool_chunk_chars and tool_rounds must not be negative")
        self.tool_arguments()

    def tool_arguments(self) -> dict[str, object]:
        """`tool_args` read: arguments by tool name."""
        if not self.tool_args:
            return {}
        try:
            given = json.loads(self.tool_args)
        except ValueError:
            raise DirectiveError("tool_args must be a JSON object of arguments by tool name") from None
        if not isinstance(given, dict):
            raise DirectiveError("tool_args must be a JSON object of arguments by tool name")
        return given

    @property
    def faulty(self) -> bool:
        return any(
            value is not None for value in (self.status, self.cut_after, self.stall_after, self.error_after)
        )

    def without_faults(self) -> Scenario:
        return dataclasses.replace(
            self, status=None, retry_after=None, cut_after=None, stall_after=None, error_after=None
        )

    def with_directives(self, directives: str) -> Scenario:
        """This scenario changed by `key=value` pairs joined with `+`; `DirectiveError` if one is wrong."""
        changes: dict[str, object] = {}
        for pair in filter(None, directives.split("+")):
            key, sep, value = pair.partition("=")
            spec = _FIELDS.get(key)
            if spec is None or not sep:
                raise DirectiveError(f"unknown simulator directive {pair!r}; known: {', '.join(_FIELDS)}")
            changes[key] = _convert(spec, value)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


_FIELDS = {spec.name: spec for spec in dataclasses.fields(Scenario)}


def _convert(spec: dataclasses.Field[object], value: str) -> object:
    kind = str(spec.type)
    try:
        if kind.startswith("int"):
            return int(value)
        if kind.startswith("float"):
            return float(value)
    except ValueError:
        raise DirectiveError(f"{spec.name} must be a number, got {value!r}") from None
    return value


def split_model(model: str) -> tuple[str, str]:
    """The model's own name and the directives that follow its first `+`."""
    name, _, directives = model.partition("+")
    return name, directives
