"""Per-request timing for plots: the first requests as rows, every request in per-model
aggregates and histograms, so the ledger's `timeline` section stays bounded at any run size."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from fakeai_contract.expr import percentile

#: Requests kept as individual rows; past it only the aggregates grow (a few numbers per model).
SAMPLE_CAP = 5000
#: Bars per histogram.
BINS = 40


def outcome(ok: bool, http_status: int | None) -> str:
    """'ok', 'http' (the server answered an error status) or 'error' (no complete answer)."""
    if ok:
        return "ok"
    return "http" if isinstance(http_status, int) and http_status >= 400 else "error"


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def percentiles(values: array | list[float], with_mean: bool = False) -> dict[str, float | None]:
    """p50/p90/p99 (and mean and max) of VALUES, in seconds rounded to the microsecond."""
    xs = sorted(values)
    out = {k: _r(percentile(xs, q)) for k, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
    if with_mean:
        out = {"mean": _r(sum(xs) / len(xs)) if xs else None, **out, "max": _r(xs[-1]) if xs else None}
    return out


def histogram(values: array | list[float], bins: int = BINS) -> dict[str, Any]:
    """Equal-width bins from the smallest to the largest value: {lo, hi, counts}."""
    if not values:
        return {"lo": None, "hi": None, "counts": []}
    lo, hi = min(values), max(values)
    if hi <= lo:
        return {"lo": _r(lo), "hi": _r(hi), "counts": [len(values)]}
    width = (hi - lo) / bins

    def index(v: float) -> int:
        if not width:               # a range so narrow its bin width underflows to 0
            return 0 if v == lo else bins
        return int((v - lo) / width)
    # A value's bin is min(index(v), bins - 1), and index never decreases with v: so on the sorted
    # values each bin's start is one binary search (a stream's ITLs run to millions of values).
    xs = sorted(values)
    starts = [0, *(bisect_left(xs, i, key=index) for i in range(1, bins)), len(xs)]
    counts = [starts[i + 1] - starts[i] for i in range(bins)]
    return {"lo": _r(lo), "hi": _r(hi), "counts": counts}


@dataclass
class _ModelTimes:
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    streaming: int = 0
    latency: array = field(default_factory=lambda: array("d"))
    ttft: array = field(default_factory=lambda: array("d"))


@dataclass
class Timeline:
    """Collects one row per request up to CAP and per-model timings for every request."""

    cap: int = SAMPLE_CAP
    total: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    by_model: dict[str, _ModelTimes] = field(default_factory=dict)

    def add(self, *, seq: int, model: str, stream: bool, ok: bool, start_s: float, duration_s: float,
            ttft_s: float | None, http_status: int | None) -> None:
        """Count one finished request."""
        self.total += 1
        if len(self.rows) < self.cap:
            self.rows.append({"seq": seq, "model": model, "stream": stream,
                              "outcome": outcome(ok, http_status), "http_status": http_status,
                              "start_s": _r(start_s), "duration_s": _r(duration_s), "ttft_s": _r(ttft_s)})
        m = self.by_model.get(model)
        if m is None:
            m = self.by_model[model] = _ModelTimes()
        m.total += 1
        m.succeeded += int(ok)
        m.failed += int(not ok)
        m.streaming += int(stream)
        m.latency.append(duration_s)
        if ttft_s is not None:
            m.ttft.append(ttft_s)

    def merge(self, other: "Timeline") -> None:
        """Add OTHER's requests (another worker's): rows up to the cap, every timing."""
        self.total += other.total
        self.rows.extend(other.rows[:max(0, self.cap - len(self.rows))])
        for name, m in other.by_model.items():
            mine = self.by_model.setdefault(name, _ModelTimes())
            mine.total += m.total
            mine.succeeded += m.succeeded
            mine.failed += m.failed
            mine.streaming += m.streaming
            mine.latency.extend(m.latency)
            mine.ttft.extend(m.ttft)

    def to_dict(self, latency: array, ttft: array, itl: array) -> dict[str, Any]:
        """The ledger's `timeline` section; LATENCY, TTFT and ITL hold every request's values."""
        return {
            "cap": self.cap, "total": self.total, "kept": len(self.rows),
            "requests": sorted(self.rows, key=lambda r: (r["start_s"], r["seq"])),
            "by_model": {name: {"total": m.total, "succeeded": m.succeeded, "failed": m.failed,
                                "streaming": m.streaming, "latency_s": percentiles(m.latency, True),
                                "ttft_s": percentiles(m.ttft)}
                         for name, m in sorted(self.by_model.items())},
            "histograms": {"ttft_s": histogram(ttft), "itl_s": histogram(itl),
                           "latency_s": histogram(latency)},
        }
