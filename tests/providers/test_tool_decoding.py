"""`ChunkDecoder` assembling tool calls in process: pieces in, `ToolCallDelta`s and whole `ToolCall`s out."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybrid._providers.openai.chunks import ChunkDecoder, MalformedChunk
from hybrid._wire.parts import ToolCall, ToolCallDelta


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n".encode()


def head(index: int | None, call_id: str | None, name: str | None) -> dict[str, Any]:
    fragment: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": ""}}
    if index is not None:
        fragment["index"] = index
    if call_id is not None:
        fragment["id"] = call_id
    return {"tool_calls": [fragment]}


def piece(index: int | None, arguments: str) -> dict[str, Any]:
    fragment: dict[str, Any] = {"function": {"arguments": arguments}}
    if index is not None:
        fragment["index"] = index
    return {"tool_calls": [fragment]}


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


REGION = '{"region": "Europe"}'
TOP = '{"n": 3}'
# OpenAI's shape: a little text, then two calls one after the other, arguments in pieces.
STREAM = (
    chunk({"role": "assistant", "content": ""})
    + chunk({"content": "Let me look."})
    + chunk(head(0, "call_a", "show_only"))
    + b"".join(chunk(piece(0, p)) for p in pieces(REGION, 3))
    + chunk(head(1, "call_b", "top_products"))
    + b"".join(chunk(piece(1, p)) for p in pieces(TOP, 3))
    + chunk({}, finish="tool_calls")
    + b"data: [DONE]\n\n"
)
CALLS = (ToolCall("call_a", "show_only", REGION), ToolCall("call_b", "top_products", TOP))


def decode(reads: list[bytes]) -> tuple[list[Any], ChunkDecoder]:
    decoder = ChunkDecoder()
    out: list[Any] = []
    for raw in reads:
        deltas = decoder.feed(raw)
        if isinstance(deltas, str):
            out.extend([deltas] if deltas else [])
        else:
            out.extend(deltas)
    return out, decoder


def test_calls_are_assembled_from_their_pieces_and_each_piece_is_passed_on_in_order() -> None:
    out, decoder = decode([STREAM])
    assert out[0] == "Let me look."  # the text before the calls comes first
    deltas = out[1:]
    assert all(isinstance(delta, ToolCallDelta) for delta in deltas)
    assert [(d.index, d.call_id, d.name) for d in deltas[:2]] == [(0, "call_a", "show_only")] * 2
    assert "".join(d.arguments for d in deltas if d.index == 0) == REGION
    assert "".join(d.arguments for d in deltas if d.index == 1) == TOP
    assert decoder.tool_calls() == CALLS
    assert decoder.finish_reason == "tool_calls" and decoder.started and decoder.done


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), unique=True, max_size=30))
def test_any_split_of_the_bytes_gives_the_same_calls_and_arguments(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    out, decoder = decode([STREAM[a:b] for a, b in itertools.pairwise(bounds)])
    assert decoder.tool_calls() == CALLS
    assert "".join(d for d in out if isinstance(d, str)) == "Let me look."
    assert "".join(d.arguments for d in out if isinstance(d, ToolCallDelta)) == REGION + TOP


def test_interleaved_parallel_calls_keep_their_own_arguments() -> None:
    left, right = pieces(REGION, 2), pieces(TOP, 2)
    stream = chunk(head(0, "a", "show_only")) + chunk(head(1, "b", "top_products"))
    for i in range(max(len(left), len(right))):
        stream += chunk(piece(0, left[i])) if i < len(left) else b""
        stream += chunk(piece(1, right[i])) if i < len(right) else b""
    _, decoder = decode([stream + b"data: [DONE]\n\n"])
    assert decoder.tool_calls() == (ToolCall("a", "show_only", REGION), ToolCall("b", "top_products", TOP))


def test_a_text_only_read_stays_one_string() -> None:
    decoder = ChunkDecoder()
    assert decoder.feed(chunk({"content": "Hello"}) + chunk({"content": ", world"})) == "Hello, world"
    assert decoder.tool_calls() == ()


def test_calls_numbered_from_one_or_not_at_all_are_still_told_apart() -> None:
    # Some gateways number a call after the text before it (index 1 first); some send no index at all
    # and tell the calls apart by id, a piece without an id continuing the last call.
    from_one = (
        chunk(head(1, "a", "show_only")) + chunk(piece(1, REGION)) + chunk(head(2, "b", "top_products"))
    )
    _, decoder = decode([from_one + chunk(piece(2, TOP))])
    assert decoder.tool_calls() == (ToolCall("a", "show_only", REGION), ToolCall("b", "top_products", TOP))
    unnumbered = chunk(head(None, "a", "show_only")) + chunk(piece(None, REGION))
    unnumbered += chunk(head(None, "b", "top_products")) + chunk(piece(None, TOP))
    out, decoder = decode([unnumbered])
    assert decoder.tool_calls() == (ToolCall("a", "show_only", REGION), ToolCall("b", "top_products", TOP))
    assert {d.index for d in out} == {0, 1}


def test_a_repeated_id_and_name_are_not_doubled_and_a_missing_id_is_made_up() -> None:
    again = {"index": 0, "id": "a", "function": {"name": "show_only", "arguments": REGION}}
    repeated = chunk(head(0, "a", "show_only")) + chunk({"tool_calls": [again]})
    _, decoder = decode([repeated])
    assert decoder.tool_calls() == (ToolCall("a", "show_only", REGION),)
    _, decoder = decode([chunk(head(0, None, "show_only")) + chunk(piece(0, REGION))])
    (call,) = decoder.tool_calls()
    assert call.call_id.startswith("call_") and len(call.call_id) > 10 and call.arguments == REGION


@pytest.mark.parametrize(
    "delta",
    [
        {"tool_calls": {"index": 0}},
        {"tool_calls": [{"index": "0", "function": {"arguments": "{}"}}]},
        {"tool_calls": [{"index": 0, "function": "show_only"}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": {"n": 3}}}]},
        {"tool_calls": ["x"]},
        {"tool_calls": [None]},
    ],
)
def test_a_malformed_tool_call_fails_the_answer(delta: dict[str, Any]) -> None:
    decoder = ChunkDecoder()
    decoder.feed(chunk(delta))
    assert isinstance(decoder.failure, MalformedChunk) and decoder.done
