"""Hugging Face TGI's router (router/src/server.rs, router/src/lib.rs, backends/v3/src/queue.rs)."""

from __future__ import annotations

from typing import Any, Mapping

from ..completion import ResponseStyle
from . import Flavor
from .surface import Buckets, Surface, Timing, geometric, text_exposition

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
MAX_INPUT_TOKENS = 4095
MAX_TOTAL_TOKENS = 4096
#: server.rs: 35 buckets, 0.0001 * 1.5^k, for every metric whose name ends in "duration".
DURATION_BUCKETS = geometric(0.0001, 1.5, 35)
INPUT_BUCKETS = [MAX_INPUT_TOKENS / 100 * (x + 1) for x in range(100)]
TOKEN_BUCKETS = [MAX_TOTAL_TOKENS / 100 * (x + 1) for x in range(100)]
DURATIONS = ("tgi_request_duration", "tgi_request_validation_duration", "tgi_request_queue_duration",
             "tgi_request_inference_duration", "tgi_request_mean_time_per_token_duration")
#: How the router labels a failure (tgi_request_failure{err}).
FAILURE_KINDS = {400: "validation", 422: "validation", 424: "generation", 429: "overloaded"}


class TgiSurface(Surface):
    """The router's metrics-rs counters, gauges and histograms; counters have no _total suffix."""

    content_type = "text/plain; charset=utf-8"

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.count = 0
        self.success = 0
        self.failures: dict[str, int] = {}
        self.queue_size = 0
        self.histograms = {name: Buckets(DURATION_BUCKETS) for name in DURATIONS}
        self.histograms["tgi_request_input_length"] = Buckets(INPUT_BUCKETS)
        self.histograms["tgi_request_generated_tokens"] = Buckets(TOKEN_BUCKETS)
        self.histograms["tgi_request_max_new_tokens"] = Buckets(TOKEN_BUCKETS)

    def _started(self, event) -> None:
        # server.rs: chat_completions counts the request, then generate_internal /
        # generate_stream_internal counts it again, so tgi_request_count grows by 2 per chat request.
        self.count += 2
        super()._started(event)

    def running(self, count: int) -> None:
        self.in_batch = count

    def waiting(self, count: int) -> None:
        self.queue_size = count       # backends/v3/src/queue.rs: entries not yet batched

    def completed(self, data: Mapping[str, Any], timing: Timing) -> None:
        self.success += 1
        h = self.histograms
        h["tgi_request_duration"].observe(timing.e2e)
        h["tgi_request_validation_duration"].observe(0.0)
        h["tgi_request_queue_duration"].observe(0.0)
        h["tgi_request_inference_duration"].observe(timing.e2e)
        # server.rs: time_per_token = inference_time / generated_tokens
        h["tgi_request_mean_time_per_token_duration"].observe(timing.e2e / max(1, timing.tokens))
        h["tgi_request_generated_tokens"].observe(timing.tokens)
        h["tgi_request_input_length"].observe(data.get("prompt_tokens") or 0)
        h["tgi_request_max_new_tokens"].observe(data.get("max_tokens") or timing.tokens)

    def failed(self, data: Mapping[str, Any]) -> None:
        status = data.get("status") or 500
        if status == 499:
            return
        kind = FAILURE_KINDS.get(status, "incomplete")
        self.failures[kind] = self.failures.get(kind, 0) + 1

    def phantom(self, count: int) -> None:
        self.count += count
        self.success += count
        for _ in range(count):
            self.histograms["tgi_request_generated_tokens"].observe(1)
            self.histograms["tgi_request_input_length"].observe(1)

    def render(self) -> bytes:
        families = [
            ("tgi_request_count", "counter", "", [("tgi_request_count", {}, self.count)]),
            ("tgi_request_success", "counter", "Number of successful requests",
             [("tgi_request_success", {}, self.success)]),
        ]
        if self.failures:
            families.append(("tgi_request_failure", "counter", "", [("tgi_request_failure", {"err": k}, v)
                                                                   for k, v in sorted(self.failures.items())]))
        families += [
            ("tgi_queue_size", "gauge", "", [("tgi_queue_size", {}, self.queue_size)]),
            ("tgi_batch_current_size", "gauge", "", [("tgi_batch_current_size", {}, getattr(self, "in_batch", 0))]),
            ("tgi_batch_current_max_tokens", "gauge", "", [("tgi_batch_current_max_tokens", {}, 0)]),
        ]
        for name, hist in self.histograms.items():
            families.append((name, "histogram", "", hist.samples(name)))
        return text_exposition(families)


FLAVOR = Flavor(
    name="tgi",
    model=MODEL,
    owned_by=MODEL,                   # openai_get_model_info: owned_by is the model id
    health_path="/health",            # health(): Ok(()) is an empty 200; 503 {"error","error_type"}
    health_body=None,
    metrics_path="/metrics",
    surface=TgiSurface,
    # ChatCompletionChunk::new and ChatCompletion::new set id to String::new(); every document has system_fingerprint.
    style=ResponseStyle(head={"system_fingerprint": "3.3.6-native"}, document_id=""),
    # ChatRequest.model is "[UNUSED]" for generation, but chat_completions names the requested
    # model in the response (the served one only when it is absent or "tgi").
    unknown_model="echo",
    model_card={},
    key_paths=("/",),                 # --api-key layers an auth middleware over the base routes
    key_exempt=("/health", "/metrics", "/info", "/v1/models", "/ping"),
    unauthorized=lambda: (401, ""),
    # server.rs routes /v1/chat/completions and /v1/completions, no embeddings and no
    # /v1/models/{model}; axum answers an unrouted path with an empty 404.
    apis=("/v1/completions",),
    retrieve_model=False,
    not_found=None,
    not_allowed=None,
)
