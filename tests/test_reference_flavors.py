"""The reference server's --flavor surfaces over real HTTP: health, models, shapes, metrics, key."""

from __future__ import annotations

import time

import pytest

from fakeai_contract.phases.endpoints import parse_prometheus
from fakeai_contract.reference import ReferenceOptions, ReferenceServer
from fakeai_contract.reference.flavors import NAMES, get_flavor

from tests.reference_helpers import CHAT, chat_body, json_chunks, parse_sse, session, stream_raw, wait_until

pytestmark = pytest.mark.timeout(60)

#: Per flavor: the sample names that count prompt and generation tokens, and requests served.
TOKEN_SERIES = {
    "vllm": ("vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:request_success_total"),
    "sglang": ("sglang:prompt_tokens_total", "sglang:generation_tokens_total", "sglang:num_requests_total"),
    # TGI's counters have no _total suffix, and the parsed document keeps the names as exposed
    "tgi": ("tgi_request_input_length_sum", "tgi_request_generated_tokens_sum", "tgi_request_success"),
    "llamacpp": ("llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", None),
    "litellm": ("litellm_input_tokens_metric_total", "litellm_output_tokens_metric_total",
                "litellm_proxy_total_requests_metric_total"),
}
RUNNING = {"vllm": "vllm:num_requests_running", "sglang": "sglang:num_running_reqs",
           "tgi": "tgi_batch_current_size", "llamacpp": "llamacpp:requests_processing",
           "litellm": "litellm_in_flight_requests"}


def _metrics(http, srv, flavor) -> dict:
    r = http.get(srv.base_url + flavor.metrics_path.rstrip("/"), timeout=5)
    assert r.status_code == 200, r.text
    return parse_prometheus(r.text)


@pytest.fixture(params=NAMES)
def flavored(request):
    flavor = get_flavor(request.param)
    with ReferenceServer(ReferenceOptions(flavor=request.param, latency=0.001, ttft=0.003, itl=0.001)) as srv:
        yield flavor, srv


def test_health_models_and_metrics_are_where_that_server_has_them(flavored):
    flavor, srv = flavored
    with session() as http:
        health = http.get(srv.base_url + flavor.health_path, timeout=5)
        assert health.status_code == 200
        if flavor.health_body is None:
            assert health.content == b""
        else:
            assert health.json() == flavor.health_body
        models = http.get(srv.base_url + "/v1/models", timeout=5).json()
        assert [m["id"] for m in models["data"]] == [flavor.model]
        assert models["data"][0]["owned_by"] == flavor.owned_by
        assert http.get(srv.base_url + "/metrics/events", timeout=5).status_code == 404   # the seed's surface is gone
        body = chat_body(flavor.model, max_tokens=40, ignore_eos=True)
        answer = http.post(srv.base_url + CHAT, json=body, timeout=5).json()
        assert answer["usage"]["completion_tokens"] == 40          # ignore_eos: exactly max_tokens
        assert answer["choices"][0]["finish_reason"] == "length"
        status, _, raw = stream_raw(http, srv.base_url, dict(body, stream=True, max_tokens=7,
                                                             stream_options={"include_usage": True}))
        assert status == 200
        chunks = json_chunks(parse_sse(raw))
        assert chunks[-1]["usage"]["completion_tokens"] == 7
        prompt, generation, served = TOKEN_SERIES[flavor.name]

        def counted():
            doc = _metrics(http, srv, flavor)
            return doc if doc.get(generation) == 47 else None
        doc = wait_until(counted, timeout=3)
        assert doc, _metrics(http, srv, flavor).get(generation)
        assert doc[prompt] == answer["usage"]["prompt_tokens"] + chunks[-1]["usage"]["prompt_tokens"]
        if served:
            assert doc[served] == 2
        assert doc[RUNNING[flavor.name]] == (1 if flavor.name == "litellm" else 0)   # LiteLLM counts the scrape
        if flavor.name == "tgi":
            raw_text = http.get(srv.base_url + "/metrics", timeout=5).text
            assert "\ntgi_request_success 2\n" in raw_text and "# TYPE tgi_request_count counter" in raw_text


#: Per flavor, from its server's source (tests/data/packs/SOURCES.md): POST /v1/embeddings for the
#: generative model it serves, GET /v1/models/{model}, a path it has no route for and a method the
#: chat route does not take, each as (status, a fragment of the body; b"" for an empty one).
ROUTES = {
    "vllm": {"embeddings": (404, b'{"detail":"Not Found"}'), "retrieve": (200, b'"object":"model"'),
             "unrouted": (404, b'{"detail":"Not Found"}'), "method": (405, b'{"detail":"Method Not Allowed"}')},
    "sglang": {"embeddings": (400, b"--is-embedding"), "retrieve": (200, b'"object":"model"'),
               "unrouted": (404, b'{"detail":"Not Found"}'), "method": (405, b'{"detail":"Method Not Allowed"}')},
    "tgi": {"embeddings": (404, b""), "retrieve": (404, b""), "unrouted": (404, b""), "method": (405, b"")},
    "llamacpp": {"embeddings": (501, b'"type":"not_supported_error"'), "retrieve": (404, b"File Not Found"),
                 "unrouted": (404, b'"type":"not_found_error"'), "method": (405, b'"type":"not_found_error"')},
    "litellm": {"embeddings": (200, b'"object":"embedding"'), "retrieve": (200, b'"object":"model"'),
                "unrouted": (404, b'{"detail":"Not Found"}'), "method": (405, b'{"detail":"Method Not Allowed"}')},
}


def test_routes_are_those_of_that_server(flavored):
    """No flavor serves a route its server lacks: TGI has no embeddings, vLLM only for embedding models."""
    flavor, srv = flavored
    expected = ROUTES[flavor.name]
    with session() as http:
        seen = {
            "embeddings": http.post(srv.base_url + "/v1/embeddings", json={"model": flavor.model, "input": "hi"},
                                    timeout=5),
            "retrieve": http.get(f"{srv.base_url}/v1/models/{flavor.model}", timeout=5),
            "unrouted": http.get(srv.base_url + "/v1/no-such-route", timeout=5),
            "method": http.delete(srv.base_url + "/v1/chat/completions", timeout=5),
        }
        for what, (status, fragment) in expected.items():
            r = seen[what]
            assert r.status_code == status, (what, r.status_code, r.content)
            assert (r.content == b"") if fragment == b"" else (fragment in r.content.replace(b": ", b":")), (what, r.content)
        text = http.post(srv.base_url + "/v1/completions", json={"model": flavor.model, "prompt": "hi", "max_tokens": 2},
                         timeout=5)
        assert text.status_code == 200 and text.json()["choices"][0]["text"]   # every one serves completions


@pytest.mark.timing      # the server's own clock, held to a bucket or a bound
def test_vllm_counts_requests_by_finish_reason_and_times_them_in_its_buckets():
    with ReferenceServer(ReferenceOptions(flavor="vllm", ttft=0.03, itl=0.004)) as srv, session() as http:
        body = chat_body("meta-llama/Llama-3.1-8B-Instruct", max_tokens=5, stream=True)
        for extra in ({"ignore_eos": True}, {"max_tokens": 100}):
            assert stream_raw(http, srv.base_url, dict(body, **extra))[0] == 200
        wait_until(lambda: parse_prometheus(http.get(srv.base_url + "/metrics").text)
                   .get("vllm:e2e_request_latency_seconds_count") == 2, timeout=3)
        text = http.get(srv.base_url + "/metrics").text
        assert 'vllm:request_success_total{engine="0",finished_reason="length",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.0' in text
        assert 'finished_reason="stop",model_name="meta-llama/Llama-3.1-8B-Instruct"} 1.0' in text
        # TTFT 0.03 falls in vLLM's (0.02, 0.04] bucket
        assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.02",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0' in text
        assert 'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.04",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0' in text
        # unknown models are a 404 naming the model, as vLLM answers
        r = http.post(srv.base_url + CHAT, json=chat_body("gpt-4"), timeout=5)
        assert r.status_code == 404 and "gpt-4" in r.json()["error"]["message"]


def test_timing_skew_and_miscount_make_the_metrics_disagree_with_what_was_served():
    opts = ReferenceOptions(flavor="vllm", ttft=0.002, itl=0.001, timing_skew=1.0, miscount=3)
    with ReferenceServer(opts) as srv, session() as http:
        assert stream_raw(http, srv.base_url, chat_body("meta-llama/Llama-3.1-8B-Instruct", max_tokens=4,
                                                        stream=True))[0] == 200
        doc = wait_until(lambda: (d := parse_prometheus(http.get(srv.base_url + "/metrics").text))
                         .get("vllm:e2e_request_latency_seconds_count") == 1 and d, timeout=3)
        assert doc["vllm:request_success_total"] == 4                  # 1 served + 3 phantoms
        assert doc["vllm:time_to_first_token_seconds_sum"] > 1.0       # served in ~2 ms


@pytest.mark.timing      # the server's own clock, held to a bucket or a bound
def test_timing_scale_multiplies_every_duration_the_metrics_record():
    """--timing-scale 0.3: the server under-reports; the responses keep their own timing."""
    opts = ReferenceOptions(flavor="sglang", ttft=0.2, itl=0.05, timing_scale=0.3)
    with ReferenceServer(opts) as srv, session() as http:
        started = time.monotonic()
        assert stream_raw(http, srv.base_url, chat_body("meta-llama/Llama-3.1-8B-Instruct", max_tokens=3,
                                                        stream=True))[0] == 200
        assert time.monotonic() - started >= 0.3                         # 0.2 + 2 * 0.05, as served
        doc = wait_until(lambda: (d := parse_prometheus(http.get(srv.base_url + "/metrics").text))
                         .get("sglang:e2e_request_latency_seconds_count") == 1 and d, timeout=3)
        assert 0.06 <= doc["sglang:time_to_first_token_seconds_sum"] < 0.1     # 0.3 * ~0.2 s
        assert 0.09 <= doc["sglang:e2e_request_latency_seconds_sum"] < 0.15    # 0.3 * ~0.3 s
        assert 0.02 <= doc["sglang:inter_token_latency_seconds_sum"] < 0.05    # 0.3 * ~0.1 s (gaps on a schedule)


@pytest.mark.parametrize("value", [0, -1, float("inf")])
def test_timing_scale_must_be_a_positive_factor(value):
    with pytest.raises(ValueError, match="timing_scale must be a factor > 0"):
        ReferenceOptions(flavor="vllm", timing_scale=value)


def test_response_shapes_follow_each_server():
    with ReferenceServer(ReferenceOptions(flavor="litellm", ttft=0.001, itl=0.0)) as srv, session() as http:
        status, _, raw = stream_raw(http, srv.base_url, chat_body("mock-gpt", max_tokens=3, stream=True,
                                                                  stream_options={"include_usage": True}))
        chunks = json_chunks(parse_sse(raw))
        *answer, last = chunks
        with_reason = [c for c in answer if "finish_reason" in c["choices"][0]]
        assert with_reason == answer[-1:]                               # only the finish chunk has one
        assert last["choices"] == [{"index": 0, "delta": {}}] and last["usage"]["completion_tokens"] == 3
        assert not any("usage" in c or "logprobs" in c["choices"][0] for c in answer)
        r = http.post(srv.base_url + CHAT, json=chat_body("gpt-4"), timeout=5)
        assert r.status_code == 400 and "Invalid model name passed in model=gpt-4" in r.json()["error"]["message"]
        moved = http.get(srv.base_url + "/metrics", allow_redirects=False, timeout=5)
        assert moved.status_code == 307 and moved.headers["location"].endswith("/metrics/")
    with ReferenceServer(ReferenceOptions(flavor="tgi", ttft=0.001, itl=0.0)) as srv, session() as http:
        status, _, raw = stream_raw(http, srv.base_url, chat_body("anything", max_tokens=3, stream=True))
        chunks = json_chunks(parse_sse(raw))
        assert {c["id"] for c in chunks} == {""}                       # ChatCompletionChunk::new
        assert {c["model"] for c in chunks} == {"anything"}    # served by its model, named as requested
        assert all(c["system_fingerprint"] for c in chunks)
        assert http.post(srv.base_url + CHAT, json=chat_body("anything"), timeout=5).json()["id"] == ""


@pytest.mark.parametrize("name,guarded,open_", [
    ("vllm", "/v1/models", "/metrics"),
    ("litellm", "/metrics/", "/health/readiness"),
    ("llamacpp", "/metrics", "/health"),
])
def test_api_key_guards_the_routes_that_server_guards(name, guarded, open_):
    with ReferenceServer(ReferenceOptions(flavor=name, api_key="sk-test")) as srv, session() as http:
        assert http.get(srv.base_url + guarded, timeout=5).status_code == 401
        assert http.get(srv.base_url + guarded, headers={"Authorization": "Bearer sk-wrong"}, timeout=5).status_code == 401
        assert http.get(srv.base_url + guarded, headers={"Authorization": "Bearer sk-test"}, timeout=5).status_code == 200
        assert http.get(srv.base_url + open_, timeout=5).status_code == 200


def test_an_unknown_flavor_is_refused():
    with pytest.raises(ValueError, match="flavor must be one of"):
        ReferenceOptions(flavor="nim")


def test_ignore_eos_runs_past_the_natural_end_on_the_plain_server_too():
    with ReferenceServer(ReferenceOptions(latency=0.0)) as srv, session() as http:
        r = http.post(srv.base_url + CHAT, json=chat_body(max_tokens=50, ignore_eos=True), timeout=5).json()
        assert r["usage"]["completion_tokens"] == 50 and r["choices"][0]["finish_reason"] == "length"
        r = http.post(srv.base_url + CHAT, json=chat_body(max_tokens=50), timeout=5).json()
        assert r["usage"]["completion_tokens"] == 16 and r["choices"][0]["finish_reason"] == "stop"
        bad = http.post(srv.base_url + CHAT, json=chat_body(ignore_eos="yes"), timeout=5)
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "ignore_eos"
