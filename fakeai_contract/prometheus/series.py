"""Per-series differences of two Prometheus documents, with counter resets as in PromQL's increase()."""

from __future__ import annotations

from typing import Any

#: family type → sample-name suffixes whose series only grow (a decrease means the target restarted)
_MONOTONIC: dict[str, tuple[str, ...]] = {
    "counter": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
    "unknown": ("_total",),
    "untyped": ("_total",),
}
#: labels that tell a histogram's buckets and a summary's quantiles apart within one series
_PART_LABELS = ("le", "quantile")


def is_monotonic(sample: dict[str, Any]) -> bool:
    """Whether the sample is a counter (resets apply) rather than a gauge (plain difference)."""
    name = sample.get("name", "")
    if name.endswith("_created"):
        return False
    if sample.get("type") == "summary" and "quantile" in (sample.get("labels") or {}):
        return False
    return any(name.endswith(s) for s in _MONOTONIC.get(sample.get("type", ""), ()))


def _key(sample: dict[str, Any]) -> tuple:
    return sample.get("name"), tuple(sorted((sample.get("labels") or {}).items()))


def _owner_key(sample: dict[str, Any]) -> tuple:
    labels = {k: v for k, v in (sample.get("labels") or {}).items() if k not in _PART_LABELS}
    return sample.get("family"), tuple(sorted(labels.items()))


def _created(doc: dict[str, Any]) -> dict[tuple, float]:
    """(family, labels) → its OpenMetrics `_created` timestamp: a new one means the series restarted."""
    return {_owner_key(s): s["value"] for s in doc.get("_samples", ())
            if str(s.get("name", "")).endswith("_created")}


def increase(after: float, before: float | None, *, monotonic: bool, restarted: bool) -> float:
    """after − before; from 0 for a new series; a counter that went down (or restarted) counts from 0."""
    if before is None or (monotonic and (restarted or after < before)):
        return after
    diff = after - before
    return round(diff, 12) if isinstance(diff, float) else diff


def delta(after: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """A Prometheus document of per-series increases over the run (series gone by the end are left out)."""
    before = before or {}
    prior = {_key(s): s["value"] for s in before.get("_samples", ())}
    created_before, created_after = _created(before), _created(after)
    out: dict[str, Any] = {}
    samples = []
    for s in after.get("_samples", ()):
        owner = _owner_key(s)
        restarted = (owner in created_before and owner in created_after
                     and created_before[owner] != created_after[owner])
        value = increase(s["value"], prior.get(_key(s)), monotonic=is_monotonic(s), restarted=restarted)
        samples.append({**s, "value": value})
        out[s["name"]] = out.get(s["name"], 0) + value
    out["_samples"] = samples
    out["_families"] = dict(after.get("_families", {}))
    out["_format"] = after.get("_format", "prometheus")
    return out
