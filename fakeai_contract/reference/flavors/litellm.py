"""The LiteLLM proxy (litellm/proxy/proxy_server.py, litellm/integrations/prometheus.py, 1.108)."""

from __future__ import annotations

from typing import Any, Mapping

from prometheus_client import Counter, Gauge, Histogram

from ..completion import ResponseStyle
from . import Flavor
from .surface import Surface, Timing

MODEL = "mock-gpt"
#: litellm/types/integrations/prometheus.py LATENCY_BUCKETS (the last is +Inf).
LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
                   420.0, 600.0]
#: The identity labels every proxy metric carries; "None" is how the proxy writes a missing one.
IDENTITY = {"api_key_alias": "None", "end_user": "None", "hashed_api_key": "litellm_proxy_master_key",
            "org_alias": "None", "org_id": "None", "team": "None", "team_alias": "None",
            "user": "default_user_id"}
ROUTE = "/v1/chat/completions"


class LitellmSurface(Surface):
    """The proxy's prometheus callback: proxy-level request counters, latency, TTFT and tokens."""

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        r = self.registry
        proxy = {**IDENTITY, "api_provider": "openai", "client_ip": "127.0.0.1", "model_id": "reference",
                 "requested_model": model, "route": ROUTE, "user_agent": "fakeai-contract", "user_email": "None"}
        deployment = {**IDENTITY, "api_provider": "openai", "model": model, "model_group": model,
                      "model_id": "reference", "requested_model": model, "service_tier": "None"}
        tokens = {**IDENTITY, "api_provider": "openai", "model": model, "model_id": "reference",
                  "requested_model": model, "user_email": "None"}
        self.proxy_labels = proxy
        self.total = Counter("litellm_proxy_total_requests_metric",
                             "Total number of requests made to the proxy server - track number of client side "
                             "requests", [*proxy, "status_code"], registry=r)
        self.failed_total = Counter("litellm_proxy_failed_requests_metric",
                                    "Total number of failed responses from proxy - the client did not get a "
                                    "success response from litellm proxy",
                                    [*proxy, "exception_class", "exception_status"], registry=r)

        def histogram(name: str, doc: str) -> Any:
            return Histogram(name, doc, list(deployment), buckets=LATENCY_BUCKETS, registry=r).labels(**deployment)

        def counter(name: str, doc: str) -> Any:
            return Counter(name, doc, list(tokens), registry=r).labels(**tokens)

        self.total_latency = histogram("litellm_request_total_latency_metric",
                                       "End-to-end latency (seconds) for a request to LiteLLM Proxy Server")
        self.api_latency = histogram("litellm_llm_api_latency_metric", "Total latency (seconds) for a models LLM API call")
        self.ttft = histogram("litellm_llm_api_time_to_first_token_metric", "Time to first token for a models LLM API call")
        self.input_tokens = counter("litellm_input_tokens_metric", "Total number of input tokens from LLM requests")
        self.output_tokens = counter("litellm_output_tokens_metric", "Total number of output tokens from LLM requests")
        self.total_tokens = counter("litellm_total_tokens_metric",
                                    "Total number of input + output tokens from LLM requests")
        self.in_flight_gauge = Gauge("litellm_in_flight_requests",
                                     "Number of HTTP requests currently in-flight on this uvicorn worker", registry=r)

    def running(self, count: int) -> None:
        self.in_flight_gauge.set(count + self.in_queue)

    def waiting(self, count: int) -> None:
        self.in_flight_gauge.set(self.in_flight + count)   # a waiting request is in flight on the worker

    def render(self) -> bytes:
        # The scrape is itself an HTTP request in flight on the worker.
        self.in_flight_gauge.set(self.in_flight + self.in_queue + 1)
        try:
            return super().render()
        finally:
            self.in_flight_gauge.set(self.in_flight + self.in_queue)

    def completed(self, data: Mapping[str, Any], timing: Timing) -> None:
        self.total.labels(**self.proxy_labels, status_code="200").inc()
        self.total_latency.observe(timing.e2e)
        self.api_latency.observe(timing.e2e)
        if data.get("stream"):
            self.ttft.observe(timing.ttft)    # only streamed calls have a first token apart from the last
        prompt = data.get("prompt_tokens") or 0
        self.input_tokens.inc(prompt)
        self.output_tokens.inc(timing.tokens)
        self.total_tokens.inc(prompt + timing.tokens)

    def failed(self, data: Mapping[str, Any]) -> None:
        status = str(data.get("status") or 500)
        labels = dict(self.proxy_labels, requested_model=data.get("model") or "None")
        self.total.labels(**labels, status_code=status).inc()
        self.failed_total.labels(**labels, exception_class="ProxyException", exception_status=status).inc()

    def phantom(self, count: int) -> None:
        self.total.labels(**self.proxy_labels, status_code="200").inc(count)
        self.input_tokens.inc(count)
        self.output_tokens.inc(count)
        self.total_tokens.inc(2 * count)


FLAVOR = Flavor(
    name="litellm",
    model=MODEL,
    owned_by="openai",
    health_path="/health/readiness",  # {"status": "healthy", "db": "Not connected", ...} without a database
    health_body={"status": "healthy", "db": "Not connected", "cache": None, "litellm_version": "1.108.7",
                 "success_callbacks": ["PrometheusLogger"]},
    metrics_path="/metrics/",         # make_asgi_app mounted at /metrics: GET /metrics is a 307 to /metrics/
    surface=LitellmSurface,
    # Its SSE chunks leave finish_reason out until the finish chunk, logprobs out everywhere and
    # usage out until the usage chunk, which carries one choice with an empty delta (observed
    # from the real proxy).
    style=ResponseStyle(finish_reason_until_last=False, logprobs=False, usage_until_last="absent",
                        usage_choice={"index": 0, "delta": {}}),
    unknown_model="400",
    key_paths=("/",),                 # the master key guards every route, /metrics included
    key_exempt=("/health/readiness", "/health/liveliness"),
    unauthorized=lambda: (401, {"error": {"message": "Authentication Error, Invalid proxy server token passed.",
                                          "type": "auth_error", "param": "None", "code": "401"}}),
    extra_routes=(("/health/liveliness", "I'm alive!"),),
)
