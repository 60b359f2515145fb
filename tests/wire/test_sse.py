"""The SSE encoder round-trips any text through a spec-compliant parser, as `SSE(concat=True)` shows it."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from hybrid._wire import sse
from tests.support.sse_client import answer, parse


def encode(deltas: list[str]) -> str:
    encoder = sse.MessageEncoder()
    return (b"".join(encoder.message(delta) for delta in deltas) + sse.DONE).decode()


def as_the_page_reads_it(text: str) -> str:
    """SSE cannot carry a carriage return: every line break arrives as `\\n`."""
    return re.sub(r"\r\n?", "\n", text)


delta_text = st.lists(
    st.one_of(st.text(max_size=8), st.sampled_from(["\n", "\r", "\r\n", " ", "[DONE]", "data:", ":"])),
    max_size=6,
).map("".join)


@given(st.lists(delta_text, max_size=20))
@example(["[DONE]"])
@example(["[DONE]", "[DONE]"])
@example(["a\r", "\nb"])
@example(["\r", "\n", "\n"])  # the LF after a CR is dropped once, not twice
@example(["  leading and trailing  ", "\n\n", "[DONE]\n"])
def test_any_deltas_round_trip_through_a_spec_parser(deltas: list[str]) -> None:
    text, done = answer(encode(deltas))
    assert done
    assert text == as_the_page_reads_it("".join(deltas))


def test_a_delta_that_is_done_never_ends_the_stream_early() -> None:
    messages = parse(encode(["before ", "[DONE]", " after"]))
    assert [m.data for m in messages][-1] == "[DONE]"
    assert "[DONE]" not in [m.data for m in messages][:-1]
    assert answer(encode(["before ", "[DONE]", " after"])) == ("before [DONE] after", True)


def test_each_line_of_a_delta_gets_its_own_data_field() -> None:
    assert sse.MessageEncoder().message("one\n\ntwo") == b"data: one\ndata: \ndata: two\n\n"


def test_crlf_split_across_deltas_is_one_line_break() -> None:
    assert answer(encode(["a\r", "\nb", "\r\n", "c"])) == ("a\nb\nc", True)


def test_named_events_carry_one_line_of_json_that_plain_clients_ignore() -> None:
    stream = (
        sse.event("usage", {"text": "two\nlines"}) + sse.MessageEncoder().message("hi") + sse.DONE
    ).decode()
    assert parse(stream)[0].event == "usage"
    assert parse(stream)[0].data == '{"text":"two\\nlines"}'
    assert answer(stream) == ("hi", True)


def test_keepalive_is_a_comment() -> None:
    assert parse(sse.KEEPALIVE.decode() + "data: x\n\n") == parse("data: x\n\n")
