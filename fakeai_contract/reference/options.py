"""The reference server's options: timing, faults and network, as one frozen value."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODELS = ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "claude-3-opus", "claude-3-sonnet")

#: Every event type the chat, completion and embedding handlers publish on the bus.
EVENT_TYPES = ("request.started", "request.completed", "request.failed", "request.queued", "request.dequeued",
               "stream.started", "stream.first_token", "stream.completed", "stream.failed")

#: The port `fakeai-contract serve` listens on when none is given (the seed's port).
DEFAULT_CLI_PORT = 8765


@dataclass(frozen=True)
class ReferenceOptions:
    """Everything the reference server can be told; times are in seconds.

    Timing: ``latency`` delays a non-streaming response only. A stream sends its headers and the
    role chunk at once, its first content token ``ttft`` after the request arrived, and each further
    token ``itl`` after the previous one's scheduled time, so clients measure exactly these values.
    """

    host: str = "127.0.0.1"
    port: int = 0                      # 0: pick a free port (the CLI's default is 8765)
    latency: float = 0.005
    ttft: float = 0.01
    itl: float = 0.002
    error_rate: float = 0.0            # fraction of chat requests answered 500
    drop_stream_rate: float = 0.0      # fraction of streams cut before the finish chunk and [DONE]
    miscount: int = 0                  # phantom requests added to the request counts of /metrics and /metrics/prometheus
    miscount_errors: int = 0           # phantom failed requests in /metrics/errors's counts and the SLO built on them
    miscount_streams: int = 0          # phantom streams in /metrics/streaming's total_streams
    event_lag: float = 0.0             # each event is applied this long after it was published
    unpublished: tuple[str, ...] = ()  # event types never published, as a code path that forgets to
    log_errors: bool = False           # log a Traceback for every 500 served
    seed: int | None = None            # makes error and drop decisions reproducible
    crash_after: int = 0               # the process dies abruptly at this chat request (0: never)
    stall_after: int = 0               # at this chat request the server stops answering ...
    stall: float = 0.0                 # ... for this long (chat requests arriving meanwhile wait)
    slo_target: float = 0.99
    access_log: bool = False
    models: tuple[str, ...] = DEFAULT_MODELS
    flavor: str | None = None          # look like vllm, sglang, tgi, llamacpp or litellm (flavors/)
    timing_skew: float = 0.0           # a flavor's Prometheus durations read this much longer than served
    timing_scale: float = 1.0          # ... and this many times as long (0.3: a server that under-reports)
    api_key: str | None = None         # a flavor answers 401 without "Authorization: Bearer KEY"
    prom_skew: float = 1.0             # /metrics/prometheus records TTFT, ITL and latency times this

    def __post_init__(self) -> None:
        from .flavors import NAMES
        if self.flavor is not None and self.flavor not in NAMES:
            raise ValueError(f"flavor must be one of {', '.join(NAMES)}, got {self.flavor!r}")
        for name in ("latency", "ttft", "itl", "event_lag", "stall", "timing_skew"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("error_rate", "drop_stream_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if not 0.0 < self.slo_target < 1.0:
            raise ValueError(f"slo_target must be strictly between 0 and 1, got {self.slo_target!r}")
        if not (self.prom_skew > 0 and self.prom_skew != float("inf")):
            raise ValueError(f"prom_skew must be a factor > 0, got {self.prom_skew!r}")
        if not (self.timing_scale > 0 and self.timing_scale != float("inf")):
            raise ValueError(f"timing_scale must be a factor > 0, got {self.timing_scale!r}")
        if self.flavor is not None and self.prom_skew != 1.0:
            raise ValueError("prom_skew skews /metrics/prometheus, which a flavor does not serve; "
                             "with a flavor use timing_skew or timing_scale")
        if self.stall_after < 0:
            raise ValueError(f"stall_after must be >= 0, got {self.stall_after!r}")
        if self.crash_after < 0:
            raise ValueError(f"crash_after must be >= 0, got {self.crash_after!r}")
        for name in ("miscount", "miscount_errors", "miscount_streams"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        unknown = sorted(set(self.unpublished) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unpublished: unknown event type {', '.join(unknown)}; one of {', '.join(EVENT_TYPES)}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535, got {self.port!r}")
