"""GET /metrics/prometheus: the reference server's own Prometheus metrics, fed by the event bus.

Counters of chat requests by model and HTTP status, prompt and completion tokens by model, a
gauge of requests in flight, and histograms of time to first token, inter-token latency (both
for streamed requests, as clients measure them) and end-to-end latency (every request, by its end).
Faults lie here as a real server would: --miscount adds phantom requests to the request counter
once the first request is counted, --prom-skew F multiplies every duration it observes (TTFT, ITL,
latency) by F.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import exposition
from prometheus_client.openmetrics import exposition as openmetrics

from .bus import Event

PATH = "/metrics/prometheus"
#: Seconds. Fine steps between 1 ms and 100 ms, where the reference server's TTFT and ITL live,
#: so a quantile's bucket is narrow enough to tell a skew from the truth; coarser above.
LATENCY_BUCKETS = (0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025,
                   0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Distinct model label values kept; requests naming further models are counted under OTHER_MODEL.
MAX_MODEL_LABELS = 1000
OTHER_MODEL = "_other"


class PrometheusMetrics:
    """The registry behind /metrics/prometheus and the bus handlers that keep it."""

    def __init__(self, *, prom_skew: float = 1.0, miscount: int = 0):
        self.skew = prom_skew
        self.miscount = miscount
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("fakeai_chat_requests", "Chat completion requests answered, by model and HTTP status.",
                                ["model", "status"], registry=r)
        self.prompt_tokens = Counter("fakeai_prompt_tokens", "Prompt tokens of answered chat requests.",
                                     ["model"], registry=r)
        self.completion_tokens = Counter("fakeai_completion_tokens", "Completion tokens sent.", ["model"], registry=r)
        self.running = Gauge("fakeai_requests_running", "Chat requests in flight.", registry=r)
        self.ttft = Histogram("fakeai_time_to_first_token_seconds", "Time from a streamed request's arrival to "
                              "its first content token.", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.itl = Histogram("fakeai_inter_token_latency_seconds", "Time between consecutive content tokens of "
                             "a stream.", ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.latency = Histogram("fakeai_request_latency_seconds", "Time from a request's arrival to its last byte, "
                                 "errors included.",
                                 ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self._models: set[str] = set()
        self._phantoms_added = False

    def subscriptions(self) -> Mapping[str, Callable[[Event], None]]:
        """The bus handlers that keep the metrics."""
        return {"request.started": self._started, "request.completed": self._completed,
                "request.failed": self._failed}

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition and its Content-Type: OpenMetrics when ACCEPT asks for it, else text 0.0.4."""
        if "application/openmetrics-text" in accept:
            return openmetrics.generate_latest(self.registry), openmetrics.CONTENT_TYPE_LATEST
        return exposition.generate_latest(self.registry), exposition.CONTENT_TYPE_LATEST

    def _model(self, data: Mapping[str, Any]) -> str:
        model = str(data.get("model") or "")
        if model not in self._models and len(self._models) >= MAX_MODEL_LABELS:
            return OTHER_MODEL
        self._models.add(model)
        return model

    def _started(self, event: Event) -> None:
        self.running.inc()

    def _completed(self, event: Event) -> None:
        data, model = event.data, self._model(event.data)
        self.running.dec()
        self.requests.labels(model, "200").inc()
        self.prompt_tokens.labels(model).inc(int(data.get("prompt_tokens") or 0))
        self.completion_tokens.labels(model).inc(int(data.get("completion_tokens") or 0))
        if data.get("ttft_s") is not None:
            self.ttft.labels(model).observe(float(data["ttft_s"]) * self.skew)
        for gap in data.get("itl") or ():
            self.itl.labels(model).observe(float(gap) * self.skew)
        self.latency.labels(model).observe(float(data.get("duration_s") or 0.0) * self.skew)
        if self.miscount and not self._phantoms_added:
            # Phantoms appear with traffic, as a real miscount would, so a delta over a run shows them.
            self._phantoms_added = True
            self.requests.labels(model, "200").inc(self.miscount)

    def _failed(self, event: Event) -> None:
        data, model = event.data, self._model(event.data)
        self.running.dec()
        self.requests.labels(model, str(data.get("status") or 500)).inc()
        self.latency.labels(model).observe(float(data.get("duration_s") or 0.0) * self.skew)
