"""SGLang's HTTP server (python/sglang/srt/entrypoints/http_server.py, srt/metrics/collector.py)."""

from __future__ import annotations

from typing import Any, Mapping

from prometheus_client import Counter, Gauge, Histogram

from ..completion import ResponseStyle
from . import Flavor
from .surface import Surface, Timing

#: TokenizerMetricsCollector's default buckets.
TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400]
E2E_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400]
ITL_BUCKETS = [0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080,
               0.100, 0.200, 0.400, 0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000]
#: The scheduler's gauges carry these labels beside model_name (SchedulerMetricsCollector).
SCHEDULER_LABELS = {"engine_type": "unified", "tp_rank": "0", "pp_rank": "0"}


class SglangSurface(Surface):
    """TokenizerMetricsCollector (labelled model_name) and the scheduler's gauges."""

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        r, labels = self.registry, {"model_name": model}
        sched = {"model_name": model, **SCHEDULER_LABELS}

        def gauge(name: str, doc: str) -> Any:
            return Gauge(name, doc, list(sched), registry=r).labels(**sched)

        def counter(name: str, doc: str) -> Any:
            return Counter(name, doc, list(labels), registry=r).labels(**labels)

        def histogram(name: str, doc: str, buckets: list[float]) -> Any:
            return Histogram(name, doc, list(labels), buckets=buckets, registry=r).labels(**labels)

        self.running_gauge = gauge("sglang:num_running_reqs", "The number of running requests.")
        self.queue_gauge = gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.")
        gauge("sglang:num_used_tokens", "The number of used tokens.")
        gauge("sglang:token_usage", "The token usage.")
        gauge("sglang:gen_throughput", "The generation throughput (token/s).")
        gauge("sglang:cache_hit_rate", "The prefix cache hit rate.")
        self.prompt_tokens = counter("sglang:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter("sglang:generation_tokens", "Number of generation tokens processed.")
        counter("sglang:cached_tokens", "Number of cached prompt tokens.")
        self.requests = counter("sglang:num_requests", "Number of requests processed.")
        self.aborted = counter("sglang:num_aborted_requests", "Number of requests aborted.")
        self.ttft = histogram("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                              TTFT_BUCKETS)
        self.itl = histogram("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                             ITL_BUCKETS)
        self.e2e = histogram("sglang:e2e_request_latency_seconds",
                             "Histogram of End-to-end request latency in seconds", E2E_BUCKETS)

    def running(self, count: int) -> None:
        self.running_gauge.set(count)

    def waiting(self, count: int) -> None:
        self.queue_gauge.set(count)

    def completed(self, data: Mapping[str, Any], timing: Timing) -> None:
        # observe_one_finished_request
        self.prompt_tokens.inc(data.get("prompt_tokens") or 0)
        self.generation_tokens.inc(timing.tokens)
        self.requests.inc()
        self.e2e.observe(timing.e2e)
        self.ttft.observe(timing.ttft)
        for gap in timing.itl:
            self.itl.observe(gap)

    def failed(self, data: Mapping[str, Any]) -> None:
        if data.get("status") == 499:
            self.aborted.inc()

    def phantom(self, count: int) -> None:
        self.requests.inc(count)
        self.prompt_tokens.inc(count)
        self.generation_tokens.inc(count)


FLAVOR = Flavor(
    name="sglang",
    model="meta-llama/Llama-3.1-8B-Instruct",
    owned_by="sglang",
    health_path="/health",            # health_generate: Response(status_code=200), no body
    health_body=None,
    metrics_path="/metrics",          # --enable-metrics: prometheus_client's ASGI app (multiprocess)
    surface=SglangSurface,
    # ChatCompletionResponseStreamChoice carries matched_stop; chunks are dumped with usage null.
    style=ResponseStyle(choice={"matched_stop": None}),
    unknown_model="serve",            # the served model answers whatever name the request gives
    model_card={"root": "meta-llama/Llama-3.1-8B-Instruct", "max_model_len": 4096},
    # /v1/embeddings is always routed, but the tokenizer manager refuses an embedding request to a
    # generative model (a ValueError the OpenAI layer answers 400).
    apis=("/v1/completions",),
    refused={"/v1/embeddings": (400, {
        "object": "error", "type": "BadRequest", "param": None, "code": 400,
        "message": "This model does not appear to be an embedding model by default. "
                   "Please add `--is-embedding` when launching the server or try another model."})},
)
