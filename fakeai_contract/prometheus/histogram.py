"""Classic-histogram functions with PromQL's semantics (promql/quantile.go, BucketQuantile)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

from fakeai_contract.prometheus.selector import Selector

#: relative difference between adjacent cumulative counts that PromQL treats as float noise
SMALL_DELTA = 1e-12
_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Quantile:
    """A quantile and the bucket (lower, upper] it was interpolated in (None: no bucket)."""

    value: float
    bucket: tuple[float, float] | None


def base_name(selector: Selector) -> str:
    """The histogram's family name: the selector's name without a _bucket/_count/_sum suffix."""
    name = selector.name or ""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def series(doc: dict, selector: Selector) -> Iterator[dict[str, Any]]:
    """The samples of DOC that SELECTOR matches."""
    for s in doc.get("_samples") or ():
        if isinstance(s, dict) and selector.matches(s.get("name", ""), s.get("labels") or {}):
            yield s


def _le(sample: dict) -> float | None:
    try:
        return float(str((sample.get("labels") or {}).get("le")))
    except ValueError:
        return None


def buckets(doc: dict, selector: Selector) -> tuple[list[list[float]], int]:
    """Cumulative buckets [upper bound, count] summed by `le` over the matching series, and how many matched."""
    by_le: dict[float, float] = {}
    matched = 0
    for s in series(doc, selector.with_name(base_name(selector) + "_bucket")):
        upper = _le(s)
        if upper is None or math.isnan(upper):
            continue                      # PromQL ignores a bucket without a usable `le`
        matched += 1
        by_le[upper] = by_le.get(upper, 0.0) + float(s["value"])
    return sorted([u, c] for u, c in by_le.items()), matched


def _correct_precision(buckets: list[list[float]]) -> None:
    # PromQL's correctPrecisionErrors: a relative step of at most 1e-12 is float noise.
    prev = buckets[0][1]
    for b in buckets[1:]:
        delta = abs(b[1] - prev)
        if delta == 0:
            continue
        if b[1] != 0 and delta / b[1] <= SMALL_DELTA:
            b[1] = prev
        else:
            prev = b[1]


def _ensure_monotonic(buckets: list[list[float]]) -> None:
    # PromQL's ensureMonotonic: the envelope of the counts, so every decrease is removed.
    top = buckets[0][1]
    for b in buckets[1:]:
        top = max(top, b[1])
        b[1] = top


def bucket_quantile(q: float, buckets: list[list[float]]) -> Quantile:
    """The q-quantile of cumulative BUCKETS [[upper, count], ...] exactly as PromQL computes it."""
    if math.isnan(q):
        return Quantile(math.nan, None)
    if q < 0:
        return Quantile(-math.inf, None)
    if q > 1:
        return Quantile(math.inf, None)
    if not buckets:
        return Quantile(math.nan, None)
    merged: dict[float, float] = {}
    for upper, count in buckets:
        merged[upper] = merged.get(upper, 0.0) + count
    bs = sorted([u, c] for u, c in merged.items())
    if bs[-1][0] != math.inf:
        return Quantile(math.nan, None)
    _correct_precision(bs)
    _ensure_monotonic(bs)
    if len(bs) < 2:
        return Quantile(math.nan, None)
    observations = bs[-1][1]
    if observations == 0:
        return Quantile(math.nan, None)
    rank = q * observations
    b = next((i for i in range(len(bs) - 1) if bs[i][1] >= rank), len(bs) - 1)
    if b == len(bs) - 1:
        return Quantile(bs[-2][0], (bs[-2][0], math.inf))
    if b == 0 and bs[0][0] <= 0:
        return Quantile(bs[0][0], (-math.inf, bs[0][0]))
    start, end, count = 0.0, bs[b][0], bs[b][1]
    if b > 0:
        start = bs[b - 1][0]
        count -= bs[b - 1][1]
        rank -= bs[b - 1][1]
    frac = rank / count if count else math.nan      # Go's 0/0 is NaN (q = 0, empty first bucket)
    return Quantile(start + (end - start) * frac, (start, end))


def quantile(q: float, doc: dict, selector: Selector) -> tuple[Quantile | None, int]:
    """histogram_quantile over the buckets SELECTOR matches (None when no bucket series matched)."""
    bs, matched = buckets(doc, selector)
    return (bucket_quantile(q, bs) if matched else None), matched


def total(doc: dict, selector: Selector, suffix: str) -> tuple[float | None, int]:
    """The sum of the matching `<histogram><suffix>` series (_count or _sum), and how many matched."""
    values = [float(s["value"]) for s in series(doc, selector.with_name(base_name(selector) + suffix))]
    return (math.fsum(values) if values else None), len(values)
