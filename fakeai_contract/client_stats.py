"""What the runner itself observed: running aggregates, compact enough for 100,000 requests."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field, fields
from typing import Any

from fakeai_contract.expr import percentile
from fakeai_contract.timeline import Timeline


#: the percentiles the client section reports, and their quantiles
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def _pcts(values: array, keys=tuple(PERCENTILES)) -> dict[str, float | None]:
    xs = sorted(values)
    return {k: (None if not xs else round(percentile(xs, PERCENTILES[k]), 6)) for k in keys}


@dataclass
class _ModelCounts:
    total: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass
class ClientStats:
    """Accumulates request outcomes; `to_dict()` is the evaluation document's `client` section."""

    kind: str = "chat"          # a path's stats: the API its requests speak
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    streaming: int = 0
    non_streaming: int = 0
    streams_completed: int = 0
    streams_failed: int = 0
    chunks: int = 0
    done_markers: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    usage_reports: int = 0
    by_model: dict[str, _ModelCounts] = field(default_factory=dict)
    # per request path (chat, completions, embeddings): the same figures, each path's own; a
    # path's stats keep no timeline and no paths of their own
    by_path: dict[str, "ClientStats"] = field(default_factory=dict)
    latency: array = field(default_factory=lambda: array("d"))
    ttft: array = field(default_factory=lambda: array("d"))
    itl: array = field(default_factory=lambda: array("d"))
    timeline: Timeline | None = field(default_factory=Timeline)
    # Open-loop load only: latency and TTFT measured from each request's intended send time, and
    # how late the sends were against the schedule.
    intended_latency: array = field(default_factory=lambda: array("d"))
    intended_ttft: array = field(default_factory=lambda: array("d"))
    send_delay: array = field(default_factory=lambda: array("d"))

    def add(self, *, model: str, stream: bool, ok: bool, latency_s: float, ttft_s: float | None = None,
            itl_s: list[float] | None = None, chunks: int = 0, done: bool = False,
            usage: dict | None = None, seq: int | None = None, start_s: float = 0.0,
            http_status: int | None = None, send_delay_s: float | None = None,
            path: str | None = None, kind: str = "chat") -> None:
        """Count one finished request; START_S is when it was sent, from the start of the load;
        SEND_DELAY_S how late it left against its intended time (open loop only); PATH where it
        went and KIND the API it speaks (an embeddings usage has no completion tokens)."""
        self.total += 1
        if path is not None:
            child = self.by_path.get(path)
            if child is None:
                child = self.by_path[path] = ClientStats(timeline=None, kind=kind)
            child.add(model=model, stream=stream, ok=ok, latency_s=latency_s, ttft_s=ttft_s, itl_s=itl_s,
                      chunks=chunks, done=done, usage=usage, send_delay_s=send_delay_s, kind=kind)
        if self.timeline is not None:
            self.timeline.add(seq=self.total if seq is None else seq, model=model, stream=stream, ok=ok,
                              start_s=start_s, duration_s=latency_s, ttft_s=ttft_s if stream else None,
                              http_status=http_status)
        if send_delay_s is not None:
            self.send_delay.append(send_delay_s)
            self.intended_latency.append(send_delay_s + latency_s)
            if stream and ttft_s is not None:
                self.intended_ttft.append(send_delay_s + ttft_s)
        counts = self.by_model.get(model)
        if counts is None:
            counts = self.by_model[model] = _ModelCounts()
        counts.total += 1
        if ok:
            self.succeeded += 1
            counts.succeeded += 1
        else:
            self.failed += 1
            counts.failed += 1
        self.latency.append(latency_s)
        if stream:
            self.streaming += 1
            self.chunks += chunks
            self.done_markers += int(done)
            if ok:
                self.streams_completed += 1
            else:
                self.streams_failed += 1
            if ttft_s is not None:
                self.ttft.append(ttft_s)
            if itl_s:
                self.itl.extend(itl_s)
        else:
            self.non_streaming += 1
        if isinstance(usage, dict):
            p, c, t = usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens")
            if kind == "embeddings" and c is None:
                c = 0           # an embeddings usage counts prompt tokens only
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (p, c, t)):
                self.usage_reports += 1
                self.prompt_tokens += p
                self.completion_tokens += c
                self.total_tokens += t

    def timeline_dict(self) -> dict[str, Any]:
        """The ledger's optional `timeline` section: per-request rows (capped) and aggregates."""
        return self.timeline.to_dict(self.latency, self.ttft, self.itl)

    def merge(self, other: "ClientStats") -> None:
        """Add OTHER's requests to these: counts summed, samples joined (so percentiles are exact)."""
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, int):
                setattr(self, f.name, mine + theirs)
            elif isinstance(mine, array):
                mine.extend(theirs)
        for model, c in other.by_model.items():
            row = self.by_model.setdefault(model, _ModelCounts())
            row.total += c.total
            row.succeeded += c.succeeded
            row.failed += c.failed
        for path, theirs in other.by_path.items():
            mine = self.by_path.get(path)
            if mine is None:
                self.by_path[path] = theirs
            else:
                mine.merge(theirs)
        if self.timeline is not None and other.timeline is not None:
            self.timeline.merge(other.timeline)

    def to_dict(self) -> dict[str, Any]:
        """The `client` section: totals, per model, per path, timings and tokens."""
        out = self._figures()
        out["by_path"] = {path: {"kind": child.kind, **child._figures()} for path, child in self.by_path.items()}
        return out

    def _figures(self) -> dict[str, Any]:
        lat = sorted(self.latency)
        latency = {"mean": round(sum(lat) / len(lat), 6) if lat else None, **_pcts(self.latency),
                   "max": round(lat[-1], 6) if lat else None, "count": len(lat)}
        tokens = ({"prompt": self.prompt_tokens, "completion": self.completion_tokens,
                   "total": self.total_tokens, "reported_by": self.usage_reports}
                  if self.usage_reports else
                  {"prompt": None, "completion": None, "total": None, "reported_by": 0})
        return {
            "requests": {"total": self.total, "succeeded": self.succeeded, "failed": self.failed,
                         "streaming": self.streaming, "non_streaming": self.non_streaming},
            "by_model": {m: {"total": c.total, "succeeded": c.succeeded, "failed": c.failed}
                         for m, c in self.by_model.items()},
            "streams": {"total": self.streaming, "completed": self.streams_completed,
                        "failed": self.streams_failed, "chunks": self.chunks,
                        "done_markers": self.done_markers},
            "latency_s": latency,
            "ttft_s": {**_pcts(self.ttft), "count": len(self.ttft)},
            "itl_s": {**_pcts(self.itl), "count": len(self.itl)},
            "tokens": tokens,
            **self._intended(),
        }

    def _intended(self) -> dict[str, Any]:
        if not self.send_delay:
            return {}
        lat = self.intended_latency
        return {"intended": {
            "latency_s": {"mean": round(sum(lat) / len(lat), 6), **_pcts(lat), "max": round(max(lat), 6)},
            "ttft_s": _pcts(self.intended_ttft),
            "send_delay_s": {**_pcts(self.send_delay), "max": round(max(self.send_delay), 6)},
        }}
