"""A server's Prometheus surface fed by the reference's event bus, built on prometheus_client."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..bus import Event

Handler = Callable[[Event], None]


class Surface:
    """Prometheus metrics of one emulated server; subclasses name and label them as it does.

    Every request publishes ``request.started`` then ``request.completed`` (with its tokens,
    ``finish_reason``, ``ttft_s``, ``itl`` and ``duration_s``) or ``request.failed``; the surface
    turns those into the server's own counters, gauges and histograms. Every duration it records
    is multiplied by ``timing_scale``, then ``timing_skew`` is added (the --timing-scale and
    --timing-skew faults); ``miscount`` phantom requests appear
    once the first request has been counted (the --miscount fault).
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, model: str, *, timing_skew: float = 0.0, timing_scale: float = 1.0, miscount: int = 0):
        self.model = model
        self.skew = timing_skew
        self.scale = timing_scale
        self.miscount = miscount
        self.registry = CollectorRegistry(auto_describe=True)
        self.in_flight = 0
        self.in_queue = 0
        self._phantoms_added = False

    def subscriptions(self) -> Mapping[str, Handler]:
        """The bus handlers that keep the metrics."""
        return {"request.started": self._started, "request.completed": self._completed,
                "request.failed": self._failed, "request.queued": self._queued,
                "request.dequeued": self._dequeued}

    def render(self) -> bytes:
        """The text exposition, as the server serves it."""
        return generate_latest(self.registry)

    # -- what subclasses implement -------------------------------------------------------------

    def running(self, count: int) -> None:
        """The number of requests in flight changed."""

    def waiting(self, count: int) -> None:
        """The number of requests waiting (received, not yet started: a --stall) changed."""

    def completed(self, data: Mapping[str, Any], timing: "Timing") -> None:
        """A request finished with a response."""

    def failed(self, data: Mapping[str, Any]) -> None:
        """A request failed (HTTP error, or the client left: status 499)."""

    def phantom(self, count: int) -> None:
        """COUNT requests that never happened, one prompt and one generation token each."""

    # -- bus handlers ---------------------------------------------------------------------------

    def _started(self, event: Event) -> None:
        self.in_flight += 1
        self.running(self.in_flight)

    def _queued(self, event: Event) -> None:
        self.in_queue += 1
        self.waiting(self.in_queue)

    def _dequeued(self, event: Event) -> None:
        self.in_queue = max(0, self.in_queue - 1)
        self.waiting(self.in_queue)

    def _completed(self, event: Event) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.running(self.in_flight)
        self.completed(event.data, Timing(event.data, self.skew, self.scale))
        if self.miscount and not self._phantoms_added:
            self._phantoms_added = True
            self.phantom(self.miscount)

    def _failed(self, event: Event) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.running(self.in_flight)
        self.failed(event.data)


class Timing:
    """One finished request's durations as the server measures them (scale and skew included)."""

    def __init__(self, data: Mapping[str, Any], skew: float, scale: float = 1.0):
        self.tokens = int(data.get("completion_tokens") or 0)
        self.e2e = float(data.get("duration_s") or 0.0) * scale + skew
        ttft = data.get("ttft_s")
        # A non-streamed answer is produced in one step: its first token is its last.
        self.ttft = (self.e2e if ttft is None else float(ttft) * scale + skew)
        self.itl: list[float] = [gap * scale + skew for gap in data.get("itl") or ()]

    @property
    def decode(self) -> float:
        """Time from the first token to the last."""
        return max(0.0, self.e2e - self.ttft)

    @property
    def per_output_token(self) -> float:
        """vLLM's request time per output token: decode time over the tokens after the first."""
        return self.decode / (self.tokens - 1) if self.tokens > 1 else 0.0


def one_two_five(limit: int) -> list[float]:
    """vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to LIMIT."""
    out: list[float] = []
    exponent = 0
    while True:
        for mantissa in (1, 2, 5):
            value = mantissa * 10 ** exponent
            if value > limit:
                return out
            out.append(float(value))
        exponent += 1


def geometric(start: float, factor: float, count: int) -> list[float]:
    """COUNT buckets START*FACTOR, START*FACTOR^2, ... (TGI's duration buckets)."""
    return [start * factor ** (i + 1) for i in range(count)]


def format_value(value: float) -> str:
    """A sample value as the Rust and C++ exporters write it (integers without '.0')."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def text_exposition(families: Iterable[tuple[str, str, str, list[tuple[str, Mapping[str, str], float]]]]) -> bytes:
    """Text format 0.0.4 written by hand, for servers whose names prometheus_client would change.

    prometheus_client appends ``_total`` to every counter; TGI's Rust exporter and llama.cpp's
    hand-written endpoint do not (``tgi_request_count``, ``llamacpp:n_busy_slots_per_decode``).
    """
    lines: list[str] = []
    for name, kind, help_text, samples in families:
        if help_text:
            lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for sample, labels, value in samples:
            label_text = ",".join(f'{k}="{v}"' for k, v in labels.items())
            lines.append(f"{sample}{{{label_text}}} {format_value(value)}" if label_text
                         else f"{sample} {format_value(value)}")
    return ("\n".join(lines) + "\n").encode()


class Buckets:
    """A histogram kept as per-bucket counts, for the hand-written expositions."""

    def __init__(self, bounds: list[float]):
        self.bounds = [*bounds, math.inf]
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.sum += value
        self.count += 1
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break

    def samples(self, name: str, labels: Mapping[str, str] | None = None) -> list[tuple[str, Mapping[str, str], float]]:
        """Cumulative bucket samples, then sum and count."""
        labels = dict(labels or {})
        out, running = [], 0
        for bound, n in zip(self.bounds, self.counts):
            running += n
            le = "+Inf" if math.isinf(bound) else format_value(bound)
            out.append((f"{name}_bucket", {**labels, "le": le}, float(running)))
        out.append((f"{name}_sum", labels, self.sum))
        out.append((f"{name}_count", labels, float(self.count)))
        return out
