"""The server's in-process state: options, event bus, trackers, faults, known models."""

from __future__ import annotations

import time
from typing import Any

from .bus import EventBus
from .faults import Faults
from .options import ReferenceOptions
from .trackers import ErrorTracker, RequestTracker, StreamTracker

#: Models learnt from requests are listed by /v1/models, up to this many beyond the defaults.
MAX_EXTRA_MODELS = 1000


class ReferenceState:
    """Everything the endpoints share; the metrics documents are read from here."""

    def __init__(self, options: ReferenceOptions):
        self.options = options
        self.started_at = time.monotonic()
        self.created = int(time.time())
        self.bus = EventBus(lag=options.event_lag, unpublished=frozenset(options.unpublished))
        self.requests = RequestTracker()
        self.errors = ErrorTracker(phantoms=options.miscount_errors)
        self.streams = StreamTracker(phantoms=options.miscount_streams)
        for tracker in (self.requests, self.errors, self.streams):
            self.bus.subscribe(tracker.subscriptions())
        self.prometheus = None
        if not options.flavor:
            from .prom import PrometheusMetrics
            self.prometheus = PrometheusMetrics(prom_skew=options.prom_skew, miscount=options.miscount)
            self.bus.subscribe(self.prometheus.subscriptions())
        self.faults = Faults(options.error_rate, options.drop_stream_rate, options.seed)
        self.flavor = None
        self.surface = None
        if options.flavor:
            from .flavors import get_flavor
            self.flavor = get_flavor(options.flavor)
            self.surface = self.flavor.surface(self.flavor.model, timing_skew=options.timing_skew,
                                               timing_scale=options.timing_scale,
                                               miscount=options.miscount)
            self.bus.subscribe(self.surface.subscriptions())
        served = (self.flavor.model,) if self.flavor else options.models
        self.models: dict[str, None] = dict.fromkeys(served)

    def note_model(self, model: str) -> None:
        """Remember a requested model so /v1/models lists it (a flavor serves only its own)."""
        if self.flavor is None and model not in self.models \
                and len(self.models) < len(self.options.models) + MAX_EXTRA_MODELS:
            self.models[model] = None

    def uptime(self) -> float:
        """Seconds since the server started."""
        return time.monotonic() - self.started_at

    def health(self) -> dict[str, Any]:
        """The /health document."""
        return {"status": "healthy", "ready": True, "timestamp": time.time(), "uptime_s": self.uptime()}

    def model_list(self) -> dict[str, Any]:
        """The /v1/models document."""
        doc: dict[str, Any] = {"object": "list", "data": [self.model_card(name) for name in self.models]}
        if self.flavor and self.flavor.models_extra:
            doc.update(self.flavor.models_extra(self.flavor.model))
        return doc

    def model_card(self, name: str) -> dict[str, Any]:
        """One model object."""
        if self.flavor:
            return {"id": name, "object": "model", "created": self.created, "owned_by": self.flavor.owned_by,
                    **self.flavor.model_card}
        return {"id": name, "object": "model", "created": self.created, "owned_by": "fakeai-contract"}

    def metrics(self) -> dict[str, Any]:
        """The /metrics document (with --miscount phantom requests)."""
        now = time.monotonic()
        return self.requests.snapshot(now, now - self.started_at, self.options.miscount)

    def events(self) -> dict[str, Any]:
        """The /metrics/events document."""
        bus = self.bus
        return {
            "events_published": bus.published,
            "events_processed": bus.processed,
            "queue_depth": bus.queue_depth,
            "events_by_type": dict(bus.published_by_type),
            "subscribers": bus.subscriber_count,
            "event_lag_s": bus.lag,
        }

    def error_metrics(self) -> dict[str, Any]:
        """The /metrics/errors document."""
        return self.errors.snapshot()

    def streaming(self) -> dict[str, Any]:
        """The /metrics/streaming document."""
        return self.streams.snapshot()

    def slo(self) -> dict[str, Any]:
        """The /metrics/slo document."""
        return self.errors.slo(self.options.slo_target)
