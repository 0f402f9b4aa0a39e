"""The reference server's /v1/completions and /v1/embeddings, through the real openai SDK and raw HTTP."""

from __future__ import annotations

import math

import pytest

from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.reference import ReferenceOptions, ReferenceServer
from fakeai_contract.resources import schemas_dir
from tests.reference_helpers import json_chunks, parse_sse, session

pytestmark = pytest.mark.timeout(60)
SCHEMAS = SchemaStore([schemas_dir()])


@pytest.fixture(scope="module")
def server():
    with ReferenceServer(ReferenceOptions(latency=0.001, ttft=0.002, itl=0.001)) as srv:
        yield srv


@pytest.fixture
def client(server):
    import openai    # here, not at the top: the SDK takes most of a second to import on every worker

    c = openai.OpenAI(base_url=server.base_url + "/v1", api_key="k", max_retries=0, timeout=10)
    yield c
    c.close()


def test_completions_through_the_sdk(client):
    done = client.completions.create(model="gpt-4", prompt="Say three words please", max_tokens=3)
    assert done.object == "text_completion" and done.id.startswith("cmpl-")
    assert len(done.choices[0].text.split()) == 3 and done.choices[0].finish_reason == "length"
    assert (done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens) == (4, 3, 7)
    assert not SCHEMAS.errors("completion.schema.json", done.model_dump(exclude_none=False))
    chunks = list(client.completions.create(model="gpt-4", prompt=["one two", "three"], max_tokens=4, stream=True,
                                            stream_options={"include_usage": True}))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert len(text.split()) == 4
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 3


def test_completion_stream_chunks_match_the_shipped_schema(server):
    with session() as s:
        r = s.post(server.base_url + "/v1/completions", json={"model": "m", "prompt": "hi", "max_tokens": 2,
                                                              "stream": True}, timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    payloads = parse_sse(r.content)
    assert payloads[-1] == b"[DONE]"
    chunks = json_chunks(payloads)
    assert all(c["object"] == "text_completion" for c in chunks)
    assert all(not SCHEMAS.errors("completion_chunk.schema.json", c) for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "This is"


def test_embeddings_through_the_sdk(client):
    out = client.embeddings.create(model="text-embedding-3-small", input=["first text", "second one here"],
                                   dimensions=16, encoding_format="float")
    assert [d.index for d in out.data] == [0, 1] and out.model == "text-embedding-3-small"
    assert all(len(d.embedding) == 16 and math.isclose(sum(x * x for x in d.embedding), 1.0, abs_tol=1e-4)
               for d in out.data)
    assert out.data[0].embedding != out.data[1].embedding
    assert (out.usage.prompt_tokens, out.usage.total_tokens) == (5, 5)
    assert not SCHEMAS.errors("embeddings.schema.json", out.model_dump())
    again = client.embeddings.create(model="text-embedding-3-small", input=["first text"], dimensions=16,
                                     encoding_format="float")
    assert again.data[0].embedding == out.data[0].embedding          # deterministic


@pytest.mark.parametrize("path, body, param", [
    ("/v1/completions", {"model": "m"}, "prompt"),
    ("/v1/completions", {"model": "m", "prompt": {"x": 1}}, "prompt"),
    ("/v1/embeddings", {"model": "m"}, "input"),
    ("/v1/embeddings", {"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
    ("/v1/embeddings", {"model": "m", "input": "x", "encoding_format": "base64"}, "encoding_format"),
])
def test_bad_bodies_are_openai_400s(server, path, body, param):
    with session() as s:
        r = s.post(server.base_url + path, json=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text


def test_error_rate_reaches_both_apis():
    with ReferenceServer(ReferenceOptions(error_rate=1.0)) as srv, session() as s:
        for path, body in (("/v1/completions", {"model": "m", "prompt": "hi"}),
                           ("/v1/embeddings", {"model": "m", "input": "hi"})):
            r = s.post(srv.base_url + path, json=body, timeout=10)
            assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
