"""`ChunkDecoder` in process: chat completions SSE bytes in, text and the answer's record out."""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from hybrid._providers.base import Usage
from hybrid._providers.openai.chunks import ChunkDecoder, InStreamError, MalformedChunk


def chunk(content: str | None = None, *, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "m-2025",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def event(data: dict[str, Any] | str, newline: str = "\n") -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"data: {payload}{newline}{newline}".encode()


ANSWER = ["Hello", ", wor", "ld\n\n", "* ünïcode ✓", " [DONE]"]
USAGE = {"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 5}}
STREAM = (
    event(chunk(""))  # the role chunk: no text
    + b"".join(event(chunk(text)) for text in ANSWER)
    + event(chunk(finish="stop"))
    + event(USAGE)
    + event("[DONE]")
)


def decode(reads: list[bytes]) -> tuple[list[str], ChunkDecoder]:
    decoder = ChunkDecoder()
    texts = [decoder.feed(raw) for raw in reads]
    return [text for text in texts if text], decoder


def test_a_whole_answer_gives_its_text_finish_reason_usage_and_model() -> None:
    texts, decoder = decode([STREAM])
    assert texts == ["".join(ANSWER)]  # every delta of one read leaves as one text
    assert decoder.done and decoder.started and decoder.failure is None
    assert decoder.finish_reason == "stop"
    assert decoder.usage == Usage(prompt_tokens=3, completion_tokens=5)
    assert decoder.model == "m-2025"


def test_each_event_in_its_own_read_gives_one_text_each() -> None:
    reads = [event(chunk(text)) for text in ANSWER]
    assert decode(reads)[0] == ANSWER


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_reads_split_anywhere_give_the_same_text(cuts: list[int]) -> None:
    bounds = [0, *sorted(cuts), len(STREAM)]
    texts, decoder = decode([STREAM[a:b] for a, b in itertools.pairwise(bounds)])
    assert "".join(texts) == "".join(ANSWER)
    assert decoder.done and decoder.usage == Usage(3, 5)


@given(st.integers(min_value=1, max_value=200))
def test_crlf_line_ends_work_even_when_a_read_ends_between_cr_and_lf(cut: int) -> None:
    stream = b"".join(event(chunk(text), "\r\n") for text in ANSWER) + b"data: [DONE]\r\n\r\n"
    cut = min(cut, len(stream) - 1)
    texts, decoder = decode([stream[:cut], stream[cut:]])
    assert "".join(texts) == "".join(ANSWER)
    assert decoder.done


def test_a_data_field_over_several_lines_is_joined_with_line_feeds() -> None:
    payload = json.dumps(chunk("multi")).replace(', "choices"', ',\n"choices"')
    lines = "".join(f"data:{line}\n" for line in payload.split("\n"))  # without the optional space too
    assert decode([lines.encode() + b"\n"])[0] == ["multi"]


def test_comments_and_other_fields_are_ignored() -> None:
    reads = [b": keep-alive\n\n", b"event: message\nid: 7\n" + event(chunk("kept")), b"retry: 10\n\n"]
    assert decode(reads)[0] == ["kept"]


def test_nothing_after_done_is_read() -> None:
    texts, decoder = decode([event(chunk("a")) + event("[DONE]") + event(chunk("late")) + b"junk\n\n"])
    assert texts == ["a"] and decoder.done and decoder.failure is None


def test_a_role_chunk_alone_does_not_start_the_answer() -> None:
    texts, decoder = decode([event(chunk(""))])
    assert texts == [] and not decoder.started


def test_an_error_event_keeps_the_text_before_it_and_ends_the_answer() -> None:
    error = {"error": {"message": "overloaded", "type": "server_error", "code": None}}
    texts, decoder = decode([event(chunk("before")) + event(error) + event(chunk("after"))])
    assert texts == ["before"] and decoder.started and decoder.done
    assert isinstance(decoder.failure, InStreamError)
    assert decoder.failure.error["type"] == "server_error"


def test_an_error_event_first_fails_before_the_answer_started() -> None:
    texts, decoder = decode([event({"error": "plain string"})])
    assert texts == [] and not decoder.started
    assert isinstance(decoder.failure, InStreamError)
    assert decoder.failure.error == {"message": "plain string"}


def test_malformed_json_and_non_objects_are_failures() -> None:
    for payload in ('{"choices": [', "[1, 2]", '"text"'):
        texts, decoder = decode([event(chunk("ok")) + event(payload)])
        assert texts == ["ok"] and isinstance(decoder.failure, MalformedChunk), payload


def test_the_last_finish_reason_wins_and_length_is_kept() -> None:
    _, decoder = decode([event(chunk("a", finish="length"))])
    assert decoder.finish_reason == "length"
    _, decoder = decode([event(chunk(finish="content_filter"))])
    assert decoder.finish_reason == "content_filter"


def test_an_unfinished_event_waits_for_its_blank_line() -> None:
    decoder = ChunkDecoder()
    raw = event(chunk("held"))
    assert decoder.feed(raw[:-1]) == ""
    assert decoder.feed(raw[-1:]) == "held"
