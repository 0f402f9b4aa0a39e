"""Two ledgers side by side: checks that changed status, client latency percentiles and throughput,
server figures both have; a regression is a change past its threshold (relative AND absolute)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from fakeai_contract.client_stats import PERCENTILES
from fakeai_contract.errors import UsageError
from fakeai_contract.report import view

BAD = ("fail", "error")


@dataclass(frozen=True)
class Threshold:
    """A change is a regression when it is worse by more than PCT percent and by more than FLOOR
    (seconds, or requests/s for throughput): a 1 ms -> 2 ms change is +100 % but noise."""

    pct: float
    floor: float = 0.0

    def __str__(self) -> str:
        floor = f", {self.floor * 1000:g} ms" if self.floor and self.floor < 1 else (f", {self.floor:g}" if self.floor else "")
        return f"{self.pct:g}%{floor}"


#: family → default threshold. Small runs against a shared machine move p99 by tens of ms from
#: scheduling alone, so the floors sit above that noise and far below a real regression.
DEFAULTS: dict[str, Threshold | None] = {
    "ttft": Threshold(25, 0.020), "itl": Threshold(25, 0.005), "latency": Threshold(25, 0.020),
    "throughput": Threshold(50, 0.0),
    "server": None,          # the server's own figures are shown, gated only when asked
}
#: (key, label, family, client section, field, higher is worse)
CLIENT_METRICS = tuple(
    (f"{fam}.{p}", f"{label} {p}", fam, section, p, True)
    for fam, label, section in (("ttft", "TTFT", "ttft_s"), ("itl", "ITL", "itl_s"), ("latency", "latency", "latency_s"))
    for p in ("p50", "p90", "p99"))

#: A percentile is gated only when each run measured at least this many values beyond it: p99 of
#: 170 inter-token gaps is about the second largest gap, which one scheduling hiccup moves by more
#: than any floor a real regression would stay above. Such a row is shown, not gated.
MIN_TAIL = 5


def _supported(field: str, *sections: Mapping[str, Any]) -> bool:
    """Whether every section measured enough values beyond its FIELD percentile (a ledger written
    before counts were recorded is taken as it was: gated)."""
    q = PERCENTILES.get(field)
    for section in sections:
        count = view.number(section.get("count"), None)
        if q is not None and count is not None and count * (1 - q) < MIN_TAIL:
            return False
    return True


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s)?\s*$")
_PCT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*%?\s*$")


def parse_threshold(spec: str) -> tuple[str, Threshold]:
    """'ttft=10%' or 'latency.p99=15%,5ms' → (key, Threshold); a bad spec raises UsageError."""
    keys = sorted(DEFAULTS) + [m[0] for m in CLIENT_METRICS]
    key, sep, value = spec.partition("=")
    key = key.strip().lower()
    example = "--threshold ttft=20% or --threshold latency.p99=15%,10ms"
    if not sep or key not in keys:
        from fakeai_contract.errors import did_you_mean
        hint = did_you_mean(key, keys)
        raise UsageError(f"--threshold {spec!r}: " + ("KEY=PCT expected" if not sep else f"unknown key {key!r}"),
                         fix=(f"did you mean {hint}? " if hint else "") + f"write {example}; keys: {', '.join(keys)}")
    pct_text, _, floor_text = value.partition(",")
    pct = _PCT.match(pct_text)
    floor = _DURATION.match(floor_text) if floor_text else None
    if not pct or (floor_text and not floor):
        raise UsageError(f"--threshold {spec!r}: {value!r} is not PCT[,FLOOR]",
                         fix=f"write {example} (FLOOR in ms or s; for throughput in requests/s)")
    floor_value = 0.0
    if floor:
        floor_value = float(floor[1]) / (1000 if floor[2] == "ms" else 1)
    return key, Threshold(float(pct[1]), floor_value)


def thresholds(specs: Iterable[str]) -> dict[str, Threshold | None]:
    """The defaults overlaid with every --threshold (a metric key wins over its family)."""
    out: dict[str, Threshold | None] = dict(DEFAULTS)
    for spec in specs:
        key, value = parse_threshold(spec)
        out[key] = value
    return out


def _threshold_for(key: str, family: str, table: Mapping[str, Threshold | None]) -> Threshold | None:
    return table[key] if key in table else table.get(family)


def _metric(key: str, label: str, group: str, before: Any, after: Any, worse_up: bool,
            threshold: Threshold | None) -> dict[str, Any] | None:
    b, a = view.number(before, None), view.number(after, None)
    if b is None and a is None:
        return None
    change = None if a is None or b is None else a - b
    rel = None if change is None or not b else change / abs(b) * 100
    worse = None if change is None else (change if worse_up else -change)
    regressed = bool(threshold is not None and worse is not None and worse > threshold.floor
                     and (rel is None or abs(rel) > threshold.pct))
    return {"key": key, "label": label, "group": group, "before": b, "after": a, "change": change,
            "relative_pct": None if rel is None else round(rel, 2),
            "threshold": None if threshold is None else str(threshold), "regression": regressed}


#: A load phase shorter than this says little about throughput: a scheduling hiccup of a few tens
#: of milliseconds halves the rate of a 20-request run. Its throughput is shown, not gated.
MIN_THROUGHPUT_WALL_S = 1.0


def _load(doc: Any) -> dict:
    return view.mapping(view.mapping(view.mapping(doc).get("meta")).get("load"))


def _throughput(doc: Any) -> Any:
    return _load(doc).get("requests_per_second")


def _long_enough(*docs: Any) -> bool:
    return all((view.number(_load(d).get("wall_s"), 0.0) or 0.0) >= MIN_THROUGHPUT_WALL_S for d in docs)


def _server_figures(doc: Any) -> dict[str, tuple[str, Any]]:
    """server expression → (check name, the server's value) for every server-vs-client check."""
    entries = {e["id"]: e for e in view.entries(doc)}
    out = {}
    for pair in view.listed(view.mapping(view.mapping(doc).get("meta")).get("server_vs_client")):
        pair = view.mapping(pair)
        e = entries.get(view.text(pair.get("check")))
        if e is None or not isinstance(pair.get("server_expr"), str):
            continue
        value = e["observed"] if pair.get("server") == "observed" else e["expected"]
        if view.number(value, None) is not None:
            out[pair["server_expr"]] = (e["name"], value)
    return out


def _check_changes(before: Any, after: Any) -> list[dict[str, Any]]:
    old = {e["id"]: e for e in view.entries(before)}
    new = {e["id"]: e for e in view.entries(after)}
    out = []
    for ident, e in new.items():
        was = old.get(ident)
        if was is None or was["status"] == e["status"]:
            continue
        change = ("regressed" if e["status"] in BAD and was["status"] not in BAD else
                  "fixed" if was["status"] in BAD and e["status"] not in BAD else "changed")
        out.append({"id": ident, "name": e["name"], "before": was["status"], "after": e["status"],
                    "change": change, "message": e["message"], "location": e["location"]})
    for ident in old.keys() - new.keys():
        out.append({"id": ident, "name": old[ident]["name"], "before": old[ident]["status"], "after": None,
                    "change": "gone", "message": "", "location": old[ident]["location"]})
    return out


def compare(before: Any, after: Any, table: Mapping[str, Threshold | None] | None = None) -> dict[str, Any]:
    """What changed from BEFORE (the baseline ledger) to AFTER; `exit_code` 1 on any regression."""
    table = DEFAULTS if table is None else table
    cb, ca = view.client(before), view.client(after)
    metrics = []
    for key, label, family, section, field, worse_up in CLIENT_METRICS:
        was, now = view.mapping(cb.get(section)), view.mapping(ca.get(section))
        gate = _threshold_for(key, family, table) if _supported(field, was, now) else None
        m = _metric(key, label, "client", was.get(field), now.get(field), worse_up, gate)
        if m:
            metrics.append(m)
    m = _metric("throughput", "throughput (req/s)", "client", _throughput(before), _throughput(after), False,
                table.get("throughput") if _long_enough(before, after) else None)
    if m:
        metrics.append(m)
    sb, sa = _server_figures(before), _server_figures(after)
    for expr in [k for k in sa if k in sb]:
        m = _metric(f"server:{expr}", f"{expr}", "server", sb[expr][1], sa[expr][1], True, table.get("server"))
        if m:
            metrics.append(m)
    checks = _check_changes(before, after)
    regressions = [f"{m['label']}: {m['before']:.6g} -> {m['after']:.6g}"
                   + (f" ({m['relative_pct']:+.1f}%)" if m["relative_pct"] is not None else "")
                   + f", threshold {m['threshold']}" for m in metrics if m["regression"]]
    regressions += [f"check {c['name']}: {c['before']} -> {c['after']}" for c in checks if c["change"] == "regressed"]
    side = lambda d: {**view.header(d), "verdict": view.summary(d)["verdict"]}  # noqa: E731
    return {"baseline": side(before), "current": side(after), "checks": checks, "metrics": metrics,
            "regressions": regressions, "exit_code": 1 if regressions else 0}
