"""Trackers: running aggregates the event bus feeds and the metrics endpoints read.

Each tracker keeps O(1) state per request (counters, sums) plus bounded windows for rates and
percentiles, so neither applying an event nor reading a snapshot grows with the request count.
A request is counted when it finishes (completed or failed), so at every moment
``total_requests == successes + errors``; requests in flight show as ``active_requests``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Callable, Mapping

from fakeai_contract.expr import percentile

from .bus import Event

#: Most recent samples kept for TTFT and ITL percentiles.
SAMPLE_WINDOW = 10_000
#: Seconds over which requests_per_second is measured (or the uptime, if shorter).
RATE_WINDOW_S = 60
RECENT_ERRORS = 10

Subscriptions = Mapping[str, Callable[[Event], None]]


def _percentiles(samples: deque[float]) -> dict[str, float] | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return {name: percentile(ordered, q) for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}


class RateWindow:
    """Counts per whole second over the last RATE_WINDOW_S seconds."""

    def __init__(self, window_s: int = RATE_WINDOW_S):
        self.window_s = window_s
        self._buckets: deque[list[int]] = deque()   # [second, count], oldest first

    def add(self, at: float) -> None:
        second = int(at)
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1][1] += 1
        else:
            self._buckets.append([second, 1])
        self._trim(second)

    def _trim(self, now_second: int) -> None:
        while self._buckets and self._buckets[0][0] <= now_second - self.window_s:
            self._buckets.popleft()

    def rate(self, now: float, uptime_s: float) -> float:
        """Events per second over the window, or over the uptime while it is shorter."""
        self._trim(int(now))
        span = min(float(self.window_s), uptime_s)
        if span <= 0:
            return 0.0
        return sum(count for _, count in self._buckets) / span


class RequestTracker:
    """Feeds /metrics: requests, response time, tokens and per-model totals."""

    def __init__(self) -> None:
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.duration_sum = 0.0
        self.tokens = {"prompt": 0, "completion": 0, "total": 0}
        self.by_model: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"requests": 0, "errors": 0, "tokens": 0})
        self.rate = RateWindow()

    def subscriptions(self) -> Subscriptions:
        """Handlers by event type."""
        return {"request.started": self._started, "request.completed": self._completed,
                "request.failed": self._failed}

    def _started(self, event: Event) -> None:
        self.started += 1

    def _finished(self, event: Event) -> dict[str, Any]:
        self.duration_sum += event.data["duration_s"]
        self.rate.add(event.published_at)
        model = self.by_model[event.data["model"]]
        model["requests"] += 1
        return model

    def _completed(self, event: Event) -> None:
        self.succeeded += 1
        model = self._finished(event)
        prompt, completion = event.data["prompt_tokens"], event.data["completion_tokens"]
        self.tokens["prompt"] += prompt
        self.tokens["completion"] += completion
        self.tokens["total"] += prompt + completion
        model["tokens"] += prompt + completion

    def _failed(self, event: Event) -> None:
        self.failed += 1
        self._finished(event)["errors"] += 1

    def snapshot(self, now: float, uptime_s: float, miscount: int = 0) -> dict[str, Any]:
        """The /metrics document; MISCOUNT phantom requests join total_requests with the first request.

        They appear with traffic, as a real miscount would, so a delta over a run shows them too.
        """
        finished = self.succeeded + self.failed
        return {
            "total_requests": finished + (miscount if finished else 0),
            "successful_requests": self.succeeded,
            "failed_requests": self.failed,
            "active_requests": self.started - finished,
            "requests_per_second": self.rate.rate(now, uptime_s),
            "rate_window_s": min(float(RATE_WINDOW_S), uptime_s),
            "avg_response_time": self.duration_sum / finished if finished else 0.0,
            "total_errors": self.failed,
            "total_tokens": dict(self.tokens),
            "by_model": {name: dict(stats) for name, stats in self.by_model.items()},
            "uptime_s": uptime_s,
        }


class ErrorTracker:
    """Feeds /metrics/errors and /metrics/slo.

    PHANTOMS (--miscount-errors) failed requests join the counts once a request has finished: its
    total_requests and total_errors and the SLO's rates and budget computed from them, not
    error_rate, the breakdowns or the SLO verdict, which are kept apart, so the documents disagree
    as a double-counting server's would.
    """

    def __init__(self, phantoms: int = 0) -> None:
        self.phantoms = phantoms
        self.total_requests = 0
        self.total_errors = 0
        self.by_type: dict[str, int] = defaultdict(int)
        self.by_status: dict[str, int] = defaultdict(int)
        self.by_model: dict[str, int] = defaultdict(int)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS)

    def subscriptions(self) -> Subscriptions:
        """Handlers by event type."""
        return {"request.completed": self._completed, "request.failed": self._failed}

    def _completed(self, event: Event) -> None:
        self.total_requests += 1

    def _failed(self, event: Event) -> None:
        data = event.data
        self.total_requests += 1
        self.total_errors += 1
        self.by_type[data["error_type"]] += 1
        self.by_status[str(data["status"])] += 1
        self.by_model[data["model"]] += 1
        self.recent.append({"timestamp": data["timestamp"], "model": data["model"],
                            "status": data["status"], "type": data["error_type"],
                            "message": data["message"]})

    @property
    def error_rate(self) -> float:
        """Errors over finished requests, 0.0 before any request."""
        return self.total_errors / self.total_requests if self.total_requests else 0.0

    def _counted(self) -> tuple[int, int]:
        """(requests, errors) as the counters say: with the phantoms once a request has finished."""
        extra = self.phantoms if self.total_requests else 0
        return self.total_requests + extra, self.total_errors + extra

    def snapshot(self) -> dict[str, Any]:
        """The /metrics/errors document."""
        requests, errors = self._counted()
        return {
            "total_requests": requests,
            "total_errors": errors,
            "error_rate": self.error_rate,
            "errors_by_type": dict(self.by_type),
            "errors_by_status": dict(self.by_status),
            "errors_by_model": dict(self.by_model),
            "recent_errors": list(self.recent),
        }

    def slo(self, target: float) -> dict[str, Any]:
        """The /metrics/slo document for an availability TARGET in (0, 1)."""
        requests, errors = self._counted()
        rate = errors / requests if requests else 0.0
        budget = 1.0 - rate / (1.0 - target)
        success = 1.0 - rate
        return {
            "success_rate": success,
            "error_rate": rate,
            "error_budget_remaining": min(1.0, max(0.0, budget)),
            "slo_target": target,
            "slo_met": 1.0 - self.error_rate >= target,     # without the phantoms (equal when none)
            "total_requests": requests,
            "failed_requests": errors,
        }


def _stream_model_stats() -> dict[str, Any]:
    return {"streams": 0, "successful": 0, "failed": 0, "active": 0, "chunks": 0}


class StreamTracker:
    """Feeds /metrics/streaming: stream outcomes, TTFT and ITL percentiles, chunk counts.

    PHANTOMS (--miscount-streams) streams join total_streams alone once a stream has finished.
    """

    def __init__(self, phantoms: int = 0) -> None:
        self.phantoms = phantoms
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.chunks = 0
        self.ttft: deque[float] = deque(maxlen=SAMPLE_WINDOW)
        self.itl: deque[float] = deque(maxlen=SAMPLE_WINDOW)
        self.by_model: dict[str, dict[str, Any]] = defaultdict(_stream_model_stats)

    def subscriptions(self) -> Subscriptions:
        """Handlers by event type."""
        return {"stream.started": self._started, "stream.first_token": self._first_token,
                "stream.completed": self._completed, "stream.failed": self._failed}

    def _started(self, event: Event) -> None:
        self.started += 1
        self.by_model[event.data["model"]]["active"] += 1

    def _first_token(self, event: Event) -> None:
        self.ttft.append(event.data["ttft_s"])

    def _finished(self, event: Event) -> dict[str, Any]:
        model = self.by_model[event.data["model"]]
        model["streams"] += 1
        model["active"] -= 1
        model["chunks"] += event.data["chunks"]
        self.chunks += event.data["chunks"]
        return model

    def _completed(self, event: Event) -> None:
        self.succeeded += 1
        self._finished(event)["successful"] += 1
        self.itl.extend(event.data["itl"])

    def _failed(self, event: Event) -> None:
        self.failed += 1
        self._finished(event)["failed"] += 1

    def snapshot(self) -> dict[str, Any]:
        """The /metrics/streaming document."""
        finished = self.succeeded + self.failed
        by_model = {}
        for name, stats in self.by_model.items():
            entry = dict(stats)
            entry["avg_chunks_per_stream"] = stats["chunks"] / stats["streams"] if stats["streams"] else 0.0
            by_model[name] = entry
        return {
            "total_streams": finished + (self.phantoms if finished else 0),
            "successful_streams": self.succeeded,
            "failed_streams": self.failed,
            "active_streams": self.started - finished,
            "ttft_percentiles": _percentiles(self.ttft),
            "itl_percentiles": _percentiles(self.itl),
            "avg_chunks_per_stream": self.chunks / finished if finished else 0.0,
            "total_chunks": self.chunks,
            "by_model": by_model,
        }
