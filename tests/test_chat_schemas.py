"""The two chat schema families: strict OpenAI, and openai-compatible (what real servers legally send)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from fakeai_contract.checks.schema import SchemaStore, iter_errors
from fakeai_contract.resources import schemas_dir

SHAPES = json.loads((Path(__file__).parent / "data" / "packs" / "chat-shapes.json").read_text())
COMPAT = {"response": "chat_completion.openai-compatible.schema.json",
          "chunks": "chat_completion_chunk.openai-compatible.schema.json"}
STRICT = {"response": "chat_completion.schema.json", "chunks": "chat_completion_chunk.schema.json"}


def errors(name: str, document) -> list[dict]:
    return iter_errors(SchemaStore([schemas_dir()]).validator(name), document)


def documents(server: str, kind: str) -> list:
    shape = SHAPES[server][kind]
    return shape if kind == "chunks" else [shape]


@pytest.mark.parametrize("server", sorted(SHAPES))
@pytest.mark.parametrize("kind", ["response", "chunks"])
def test_compatible_schema_accepts_each_servers_real_shapes(server, kind):
    for document in documents(server, kind):
        assert errors(COMPAT[kind], document) == [], document


#: What the strict schema rejects in each server's real shapes, and why the packs choose the compatible one.
STRICT_REJECTS = {
    ("litellm", "chunks"): "finish_reason",        # left out before the finish chunk
    ("tgi", "chunks"): "$.id",                      # ChatCompletionChunk::new sets id to ""
    ("tgi", "response"): "$.id",
}


@pytest.mark.parametrize("server,kind", sorted(STRICT_REJECTS))
def test_strict_schema_rejects_what_those_servers_legally_send(server, kind):
    found = [e for d in documents(server, kind) for e in errors(STRICT[kind], d)]
    assert any(STRICT_REJECTS[server, kind] in e["path"] + e["message"] for e in found), found


@pytest.mark.parametrize("server", ["vllm", "sglang", "llamacpp"])
def test_strict_schema_still_accepts_the_servers_that_meet_it(server):
    for kind in ("response", "chunks"):
        for document in documents(server, kind):
            assert errors(STRICT[kind], document) == [], (server, document)


def _chunk():
    return copy.deepcopy(SHAPES["tgi"]["chunks"][0])


def _response():
    return copy.deepcopy(SHAPES["litellm"]["response"])


def _without(document, *path):
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    del target[last]
    return document


def _with(document, value, *path):
    *parents, last = path
    target = document
    for key in parents:
        target = target[key]
    target[last] = value
    return document


BROKEN_CHUNKS = {
    "no choices": (_without(_chunk(), "choices"), "$"),
    "choices not a list": (_with(_chunk(), {"index": 0, "delta": {}}, "choices"), "$.choices"),
    "a choice with no delta": (_without(_chunk(), "choices", 0, "delta"), "$.choices[0]"),
    "delta not an object": (_with(_chunk(), "One", "choices", 0, "delta"), "$.choices[0].delta"),
    "finish_reason a number": (_with(_chunk(), 1, "choices", 0, "finish_reason"), "$.choices[0].finish_reason"),
    "created a string": (_with(_chunk(), "1733400000", "created"), "$.created"),
    "wrong object": (_with(_chunk(), "chat.completion", "object"), "$.object"),
    "no model": (_without(_chunk(), "model"), "$"),
    "usage tokens as strings": (_with(_chunk(), {"prompt_tokens": "41", "completion_tokens": 8, "total_tokens": 49},
                                      "usage"), "$.usage"),
    "usage missing a count": (_with(_chunk(), {"prompt_tokens": 41, "completion_tokens": 8}, "usage"), "$.usage"),
    "id a number": (_with(_chunk(), 7, "id"), "$.id"),
}
BROKEN_RESPONSES = {
    "no choices": (_without(_response(), "choices"), "$"),
    "empty choices": (_with(_response(), [], "choices"), "$.choices"),
    "a choice with no message": (_without(_response(), "choices", 0, "message"), "$.choices[0]"),
    "a message with no role": (_without(_response(), "choices", 0, "message", "role"), "$.choices[0].message"),
    "no finish_reason": (_without(_response(), "choices", 0, "finish_reason"), "$.choices[0]"),
    "content a number": (_with(_response(), 3, "choices", 0, "message", "content"), "$.choices[0].message.content"),
    "negative usage": (_with(_response(), {"prompt_tokens": -1, "completion_tokens": 1, "total_tokens": 0}, "usage"),
                       "$.usage"),
    "chunk object in a response": (_with(_response(), "chat.completion.chunk", "object"), "$.object"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CHUNKS))
def test_compatible_chunk_schema_rejects_broken_chunks(case):
    document, path = BROKEN_CHUNKS[case]
    assert path in {e["path"] for e in errors(COMPAT["chunks"], document)}


@pytest.mark.parametrize("case", sorted(BROKEN_RESPONSES))
def test_compatible_response_schema_rejects_broken_responses(case):
    document, path = BROKEN_RESPONSES[case]
    assert path in {e["path"] for e in errors(COMPAT["response"], document)}
