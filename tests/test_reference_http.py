"""The reference server over real HTTP on a free port: endpoints, SSE framing, 400s, accounting."""

from __future__ import annotations

import json
import socket

import pytest

from fakeai_contract.reference import DEFAULT_MODELS, ReferenceOptions, ReferenceServer

from tests.reference_helpers import (CHAT, chat_body, drained, get_json, json_chunks, parse_sse, session, stream_raw,
                               wait_until)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server():
    with ReferenceServer(ReferenceOptions(latency=0.001, ttft=0.005, itl=0.001)) as srv:
        yield srv


@pytest.fixture
def fresh():
    """A server of its own, for tests that count."""
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.002, itl=0.0005)) as srv:
        yield srv


@pytest.fixture
def http():
    with session() as s:
        yield s


def test_binds_loopback_on_a_free_port(server):
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.port not in (0, 8765)


def test_health(server, http):
    health = get_json(http, server.base_url, "/health")
    assert health["status"] == "healthy" and health["ready"] is True
    assert isinstance(health["timestamp"], float) and health["uptime_s"] >= 0


def test_models_lists_defaults_and_learns_requested_models(server, http):
    listed = get_json(http, server.base_url, "/v1/models")
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]][:5] == list(DEFAULT_MODELS)
    assert all(m["object"] == "model" for m in listed["data"])
    r = http.post(server.base_url + CHAT, json=chat_body(model="my-custom-model"), timeout=5)
    assert r.status_code == 200 and r.json()["model"] == "my-custom-model"
    assert "my-custom-model" in [m["id"] for m in get_json(http, server.base_url, "/v1/models")["data"]]
    assert get_json(http, server.base_url, "/v1/models/my-custom-model")["id"] == "my-custom-model"
    missing = http.get(server.base_url + "/v1/models/never-asked", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_non_streaming_completion_shape(server, http):
    r = http.post(server.base_url + CHAT, json=chat_body(content="count these four words", max_tokens=50),
                  timeout=5)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["object"] == "chat.completion" and doc["id"].startswith("chatcmpl-")
    assert doc["model"] == "gpt-4" and isinstance(doc["created"], int)
    (choice,) = doc["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] == "stop"
    words = len(choice["message"]["content"].split())
    assert doc["usage"] == {"prompt_tokens": 4, "completion_tokens": words, "total_tokens": 4 + words}


@pytest.mark.parametrize("max_tokens", [1, 3, 7])
def test_max_tokens_is_honoured(server, http, max_tokens):
    doc = http.post(server.base_url + CHAT, json=chat_body(max_tokens=max_tokens), timeout=5).json()
    assert doc["usage"]["completion_tokens"] == max_tokens
    assert len(doc["choices"][0]["message"]["content"].split()) == max_tokens
    assert doc["choices"][0]["finish_reason"] == "length"
    status, _, raw = stream_raw(http, server.base_url, chat_body(max_tokens=max_tokens, stream=True))
    chunks = json_chunks(parse_sse(raw))
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(contents) == max_tokens
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_sse_framing_and_chunk_sequence(server, http):
    status, content_type, raw = stream_raw(http, server.base_url, chat_body(model="claude-3-opus", stream=True,
                                                                           max_tokens=50))
    assert status == 200 and content_type.startswith("text/event-stream")
    payloads = parse_sse(raw)
    assert payloads[-1] == b"[DONE]" and payloads.count(b"[DONE]") == 1
    chunks = json_chunks(payloads)
    assert len({c["id"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "claude-3-opus" for c in chunks)
    assert all("usage" not in c for c in chunks)
    first, *middle, last = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert first["choices"][0]["finish_reason"] is None
    assert middle and all(set(c["choices"][0]["delta"]) == {"content"} for c in middle)
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert last["choices"][0]["delta"] == {} and last["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"]["content"] for c in middle)
    assert len(text.split()) == len(middle)   # one word per content chunk


def test_include_usage_adds_a_final_usage_chunk(server, http):
    body = chat_body(content="five words in this prompt", stream=True, max_tokens=4,
                     stream_options={"include_usage": True})
    _, _, raw = stream_raw(http, server.base_url, body)
    payloads = parse_sse(raw)
    assert payloads[-1] == b"[DONE]"
    chunks = json_chunks(payloads)
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"] == {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert all(c["usage"] is None for c in chunks[:-1])


BAD_REQUESTS = [
    ("not json", None),
    (json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "model"),
    (json.dumps({"model": "gpt-4"}), "messages"),
    (json.dumps({"model": "gpt-4", "messages": []}), "messages"),
    (json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "10"}),
     "max_tokens"),
    (json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "stream": "true"}), "stream"),
]


def test_bad_requests_get_openai_400s_and_count_as_failed_requests(fresh, http):
    for body, param in BAD_REQUESTS:
        r = http.post(fresh.base_url + CHAT, data=body, headers={"Content-Type": "application/json"}, timeout=5)
        assert r.status_code == 400, body
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    http.post(fresh.base_url + CHAT, json=chat_body(), timeout=5).raise_for_status()
    snap = drained(http, fresh.base_url)
    n = len(BAD_REQUESTS) + 1
    assert snap["errors"]["total_requests"] == n and snap["errors"]["total_errors"] == n - 1
    assert snap["errors"]["errors_by_status"] == {"400": n - 1}
    assert snap["errors"]["errors_by_type"] == {"invalid_request_error": n - 1}
    assert snap["metrics"]["total_requests"] == n
    assert snap["slo"]["success_rate"] == pytest.approx(1 / n)
    assert snap["errors"]["recent_errors"][-1]["status"] == 400


def test_unknown_paths_and_methods_get_json_errors_and_are_not_requests(fresh, http):
    r = http.get(fresh.base_url + "/v2/nothing", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = http.get(fresh.base_url + CHAT, timeout=5)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    for path in ("/health", "/v1/models", "/metrics"):
        get_json(http, fresh.base_url, path)
    snap = drained(http, fresh.base_url)
    assert snap["metrics"]["total_requests"] == 0 and snap["events"]["events_published"] == 0


def test_empty_server_documents(fresh, http):
    snap = drained(http, fresh.base_url)
    assert snap["errors"]["error_rate"] == 0.0
    assert snap["slo"]["success_rate"] == 1.0 and snap["slo"]["error_budget_remaining"] == 1.0
    assert snap["slo"]["slo_target"] == 0.99 and snap["slo"]["slo_met"] is True
    assert snap["streaming"]["ttft_percentiles"] is None and snap["streaming"]["itl_percentiles"] is None
    assert snap["events"]["subscribers"] > 0 and snap["events"]["event_lag_s"] == 0.0


def test_event_bus_accounting_after_n_requests(fresh, http):
    models = list(DEFAULT_MODELS)
    plain, streams = 7, 5
    for i in range(plain):
        r = http.post(fresh.base_url + CHAT, json=chat_body(model=models[i % 5], max_tokens=10), timeout=5)
        r.raise_for_status()
    for i in range(streams):
        status, _, raw = stream_raw(http, fresh.base_url, chat_body(model=models[i % 5], stream=True, max_tokens=6))
        assert status == 200 and parse_sse(raw)[-1] == b"[DONE]"
    snap = drained(http, fresh.base_url)
    events, metrics, errors, streaming = snap["events"], snap["metrics"], snap["errors"], snap["streaming"]
    assert events["events_published"] == events["events_processed"] > 0 and events["queue_depth"] == 0
    n = plain + streams
    by_type = events["events_by_type"]
    assert by_type["request.started"] == by_type["request.completed"] == n
    assert by_type["stream.started"] == by_type["stream.first_token"] == by_type["stream.completed"] == streams
    assert sum(by_type.values()) == events["events_published"]
    assert metrics["total_requests"] == errors["total_requests"] == n
    assert metrics["successful_requests"] + metrics["total_errors"] == n and metrics["total_errors"] == 0
    assert metrics["active_requests"] == 0
    assert sum(m["requests"] for m in metrics["by_model"].values()) == n
    assert metrics["total_tokens"]["completion"] == plain * 10 + streams * 6
    assert metrics["total_tokens"]["total"] == metrics["total_tokens"]["prompt"] + metrics["total_tokens"]["completion"]
    assert metrics["avg_response_time"] > 0 and metrics["requests_per_second"] > 0
    assert streaming["total_streams"] == streaming["successful_streams"] == streams
    assert streaming["failed_streams"] == streaming["active_streams"] == 0
    assert streaming["avg_chunks_per_stream"] == 1 + 6 + 1   # role, content, finish
    assert set(streaming["ttft_percentiles"]) == {"p50", "p90", "p99"}
    assert snap["slo"]["total_requests"] == n and snap["slo"]["failed_requests"] == 0


def test_client_leaving_mid_stream_is_a_failed_stream_and_request():
    with ReferenceServer(ReferenceOptions(ttft=0.005, itl=0.05)) as srv, session() as http:
        body = json.dumps(chat_body(stream=True, max_tokens=50)).encode()
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        received = b""
        while b'"content":"This"' not in received:
            received += sock.recv(65536)
        sock.close()
        snap = wait_until(lambda: (s := drained(http, srv.base_url))["streaming"]["failed_streams"] == 1 and s)
        assert snap["streaming"]["successful_streams"] == 0 and snap["streaming"]["active_streams"] == 0
        assert snap["errors"]["total_requests"] == snap["errors"]["total_errors"] == 1
        assert snap["errors"]["errors_by_status"] == {"499": 1}
        assert snap["metrics"]["total_requests"] == 1 and snap["metrics"]["active_requests"] == 0


def test_openai_sdk_normal_and_streaming(server):
    import openai    # here, not at the top: the SDK takes most of a second to import on every worker

    client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="test-key", max_retries=0, timeout=10)
    try:
        completion = client.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "Hello there"}], max_tokens=8)
        assert completion.choices[0].message.content and completion.usage.completion_tokens == 8
        assert completion.choices[0].finish_reason == "length"
        stream = client.chat.completions.create(
            model="gpt-4-turbo", messages=[{"role": "user", "content": "Count from 1 to 5"}], stream=True,
            stream_options={"include_usage": True})
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert len(text.split()) == chunks[-1].usage.completion_tokens > 0
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert [m.id for m in client.models.list()][:5] == list(DEFAULT_MODELS)
    finally:
        client.close()
