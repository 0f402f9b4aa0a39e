"""The SSE parser against the WHATWG event-stream rules, whole and split at every byte."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from fakeai_contract.sse import Event, SSEParser, parse_all

CASES = [
    ("single", b"data: hello\n\n", [Event("hello")]),
    ("no space after colon", b"data:hello\n\n", [Event("hello")]),
    ("only one space stripped", b"data:  two\n\n", [Event(" two")]),
    ("multi-line data joined with LF", b"data: a\ndata: b\n\n", [Event("a\nb")]),
    ("CRLF line ends", b"data: a\r\ndata: b\r\n\r\n", [Event("a\nb")]),
    ("lone CR line ends", b"data: a\rdata: b\r\r", [Event("a\nb")]),
    ("comments ignored", b": keep-alive\ndata: x\n\n: bye\n\n", [Event("x")]),
    ("event type", b"event: error\ndata: {}\n\n", [Event("{}", event="error")]),
    ("event type resets", b"event: e\ndata: 1\n\ndata: 2\n\n", [Event("1", event="e"), Event("2")]),
    ("id and retry", b"id: 7\nretry: 1500\ndata: x\n\n", [Event("x", id="7", retry=1500)]),
    ("bad retry ignored", b"retry: soon\ndata: x\n\n", [Event("x")]),
    ("no data, no event", b"event: ping\n\n", []),
    ("unterminated event dropped", b"data: x\n", []),
    ("field without colon", b"data\n\n", [Event("")]),
    ("unknown field ignored", b"foo: bar\ndata: x\n\n", [Event("x")]),
    ("BOM dropped", b"\xef\xbb\xbfdata: x\n\n", [Event("x")]),
    ("utf-8 split", "data: héllo ✓\n\n".encode(), [Event("héllo ✓")]),
    ("DONE", b"data: {\"a\":1}\n\ndata: [DONE]\n\n", [Event('{"a":1}'), Event("[DONE]")]),
]


@pytest.mark.parametrize("name,payload,expected", CASES, ids=[c[0] for c in CASES])
def test_whole_and_split_at_every_byte(name, payload, expected):
    assert parse_all(payload) == expected
    for size in range(1, min(len(payload), 8) + 1):
        assert parse_all(payload, chunk_size=size) == expected, f"chunk size {size}"


def test_crlf_split_between_chunks_is_one_line_end():
    p = SSEParser()
    assert p.feed(b"data: a\r") == []
    assert p.feed(b"\n\r\n") == [Event("a")]


def test_has_partial_reports_a_cut_event():
    p = SSEParser()
    p.feed(b"data: {\"x\": 1}\n")
    assert p.has_partial
    p2 = SSEParser()
    p2.feed(b"data: 1\n\n")
    assert not p2.has_partial


_text = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_text, min_size=1, max_size=3), min_size=1, max_size=6),
       st.sampled_from([b"\n", b"\r\n", b"\r"]), st.integers(min_value=1, max_value=7))
def test_property_data_round_trips_any_line_ending_and_split(events, eol, chunk):
    """Whatever the data lines, line ending and chunking, each event's data comes back intact."""
    payload = b"".join(b"".join(b"data: " + line.encode() + eol for line in lines) + eol for lines in events)
    got = parse_all(payload, chunk_size=chunk)
    assert [e.data for e in got] == ["\n".join(lines) for lines in events]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=16))
def test_property_arbitrary_bytes_never_raise_and_chunking_does_not_matter(payload, chunk):
    assert parse_all(payload, chunk_size=chunk) == parse_all(payload)


def test_openai_stream_shape():
    chunks = [{"choices": [{"delta": {"role": "assistant"}}]}, {"choices": [{"delta": {"content": "hi"}}]}]
    payload = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    got = parse_all(payload, chunk_size=5)
    assert [json.loads(e.data) for e in got[:-1]] == chunks and got[-1].data == "[DONE]"
