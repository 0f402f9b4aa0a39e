"""vLLM's OpenAI server (vllm/entrypoints/openai/api_server.py, vllm/v1/metrics/loggers.py)."""

from __future__ import annotations

from typing import Any, Mapping

from prometheus_client import Counter, Gauge, Histogram

from ..completion import ResponseStyle
from . import Flavor
from .surface import Surface, Timing, one_two_five

MAX_MODEL_LEN = 4096
LABELS = ("model_name", "engine")
#: vllm/v1/engine FinishReason, each label set created at start as vLLM does.
FINISH_REASONS = ("stop", "length", "abort")
TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
                10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]
TOKEN_LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                         7.5, 10.0, 20.0, 40.0, 80.0]
REQUEST_LATENCY_BUCKETS = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                           60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]


class VllmSurface(Surface):
    """PrometheusStatLogger's metrics, labelled model_name and engine."""

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        r, values = self.registry, (model, "0")

        def gauge(name: str, doc: str) -> Any:
            return Gauge(name, doc, LABELS, registry=r).labels(*values)

        def counter(name: str, doc: str) -> Any:
            return Counter(name, doc, LABELS, registry=r).labels(*values)

        def histogram(name: str, doc: str, buckets: list[float]) -> Any:
            return Histogram(name, doc, LABELS, buckets=buckets, registry=r).labels(*values)

        self.running_gauge = gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
        self.waiting_gauge = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
        counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.")
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("vllm:generation_tokens", "Number of generation tokens processed.")
        success = Counter("vllm:request_success", "Count of successfully processed requests.",
                          [*LABELS, "finished_reason"], registry=r)
        self.success = {reason: success.labels(*values, reason) for reason in FINISH_REASONS}
        tokens = one_two_five(MAX_MODEL_LEN)
        self.prompt_hist = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", tokens)
        self.generation_hist = histogram("vllm:request_generation_tokens",
                                         "Number of generation tokens processed.", tokens)
        self.max_tokens_hist = histogram("vllm:request_params_max_tokens",
                                         "Histogram of the max_tokens request parameter.", tokens)
        self.ttft = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                              TTFT_BUCKETS)
        self.itl = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                             TOKEN_LATENCY_BUCKETS)
        # vllm:time_per_output_token_seconds (deprecated in 0.11 for inter_token_latency) is gone from
        # the current logger (tests/v1/metrics/test_histogram_buckets.py lists every histogram it has).
        self.request_tpot = histogram("vllm:request_time_per_output_token_seconds",
                                      "Histogram of time_per_output_token_seconds per request.", TOKEN_LATENCY_BUCKETS)
        self.e2e = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
                             REQUEST_LATENCY_BUCKETS)
        self.queue = histogram("vllm:request_queue_time_seconds",
                               "Histogram of time spent in WAITING phase for request.", REQUEST_LATENCY_BUCKETS)
        self.inference = histogram("vllm:request_inference_time_seconds",
                                   "Histogram of time spent in RUNNING phase for request.", REQUEST_LATENCY_BUCKETS)
        self.prefill = histogram("vllm:request_prefill_time_seconds",
                                 "Histogram of time spent in PREFILL phase for request.", REQUEST_LATENCY_BUCKETS)
        self.decode = histogram("vllm:request_decode_time_seconds",
                                "Histogram of time spent in DECODE phase for request.", REQUEST_LATENCY_BUCKETS)

    def running(self, count: int) -> None:
        self.running_gauge.set(count)

    def waiting(self, count: int) -> None:
        self.waiting_gauge.set(count)

    def completed(self, data: Mapping[str, Any], timing: Timing) -> None:
        self.prompt_tokens.inc(data.get("prompt_tokens") or 0)
        self.generation_tokens.inc(timing.tokens)
        self.success[data.get("finish_reason") or "stop"].inc()
        self.prompt_hist.observe(data.get("prompt_tokens") or 0)
        self.generation_hist.observe(timing.tokens)
        if data.get("max_tokens") is not None:
            self.max_tokens_hist.observe(data["max_tokens"])
        self.ttft.observe(timing.ttft)
        for gap in timing.itl:
            self.itl.observe(gap)
        self.request_tpot.observe(timing.per_output_token)
        for hist, value in ((self.e2e, timing.e2e), (self.queue, 0.0), (self.inference, timing.e2e),
                            (self.prefill, timing.ttft), (self.decode, timing.decode)):
            hist.observe(value)

    def failed(self, data: Mapping[str, Any]) -> None:
        # A client that leaves mid-stream aborts the request in the engine; an HTTP error from
        # the front end never reaches the engine, so no counter moves.
        if data.get("status") == 499:
            self.success["abort"].inc()

    def phantom(self, count: int) -> None:
        self.success["stop"].inc(count)
        self.prompt_tokens.inc(count)
        self.generation_tokens.inc(count)


PERMISSION = [{"id": "modelperm-reference", "object": "model_permission", "created": 0,
             "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
             "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
             "organization": "*", "group": None, "is_blocking": False}]


FLAVOR = Flavor(
    name="vllm",
    model="meta-llama/Llama-3.1-8B-Instruct",
    owned_by="vllm",
    health_path="/health",            # `@router.get("/health")`: Response(status_code=200), no body
    health_body=None,
    metrics_path="/metrics",          # mount_metrics: prometheus_client's ASGI app
    surface=VllmSurface,
    # ChatCompletionResponseStreamChoice has stop_reason; chunks are dumped with exclude_unset,
    # so usage is absent (not null) before the usage chunk.
    style=ResponseStyle(choice={"stop_reason": None}, usage_until_last="absent"),
    unknown_model="404",
    model_card={"root": "meta-llama/Llama-3.1-8B-Instruct", "parent": None, "max_model_len": MAX_MODEL_LEN,
                "permission": PERMISSION},
    key_paths=("/v1",),               # the authentication middleware guards /v1 only
    # register_pooling_api_routers adds /v1/embeddings only for a model with the "embed" task: a
    # generative model's server has no such route (FastAPI's 404).
    apis=("/v1/completions",),
)
