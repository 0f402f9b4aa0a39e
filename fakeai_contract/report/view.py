"""A normalised, read-only view of a ledger document that every renderer can trust.

Reporters take the raw dict (possibly loaded from a saved file, possibly from an older or newer
runner), so every accessor here tolerates missing keys, wrong types and unknown values: a
reporter that crashes loses the run's result.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Mapping

from fakeai_contract.ledger import PHASES, Status, status_counts, summarize

STATUSES = tuple(s.value for s in Status)

# Characters XML 1.0 cannot carry at all, and C0/C1 controls that garble terminals and tables.
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def jsonable(value: Any) -> Any:
    """VALUE as plain JSON data: str keys, lists, finite numbers; anything else as its text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {_key(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    enum_value = getattr(value, "value", None)
    if isinstance(enum_value, (str, int, float)) and not isinstance(enum_value, bool):
        return jsonable(enum_value)
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the report
        return f"<unprintable {type(value).__name__}>"


def _key(key: Any) -> str:
    return key if isinstance(key, str) else str(jsonable(key))


def text(value: Any) -> str:
    """VALUE as a string, whatever its type."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    out = jsonable(value)
    return out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)


def brief(value: Any, limit: int = 80) -> str:
    """VALUE on one line for a human: strings bare, everything else as compact JSON, clipped."""
    if isinstance(value, str):
        out = value
    else:
        out = json.dumps(jsonable(value), ensure_ascii=False, separators=(", ", ": "))
    return clip(one_line(out), limit)


def one_line(s: str) -> str:
    """S with line breaks as spaces and control characters removed."""
    return _CONTROL.sub("", s.replace("\r\n", " ").replace("\n", " ").replace("\r", " "))


def clip(s: str, limit: int) -> str:
    """S cut to about LIMIT characters, saying how much was cut."""
    if limit <= 0 or len(s) <= limit:
        return s
    return f"{s[:limit]}… ({len(s) - limit} more chars)"


def xml_safe(s: str) -> str:
    """S without the characters XML 1.0 forbids."""
    return _XML_INVALID.sub("", s)


def number(value: Any, default: float | None = 0.0) -> float | None:
    """VALUE as a finite float, or DEFAULT."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    return float(value) if math.isfinite(value) else default


def mapping(value: Any) -> dict[str, Any]:
    """VALUE if it is a mapping (as a dict), else an empty dict."""
    return dict(value) if isinstance(value, Mapping) else {}


def listed(value: Any) -> list[Any]:
    """VALUE if it is a list (or tuple), else an empty list."""
    return list(value) if isinstance(value, (list, tuple)) else []


def entry(raw: Any, index: int) -> dict[str, Any]:
    """One ledger entry with every key present and of the documented type."""
    if not isinstance(raw, Mapping):
        return {"id": f"entry/{index}", "phase": "unknown", "name": f"entry {index}",
                "status": "error", "observed": raw, "expected": None,
                "message": "malformed ledger entry (not an object)", "duration_s": 0.0,
                "tags": [], "location": None}
    status = text(raw.get("status")).lower() or "error"
    tags = raw.get("tags")
    tags = [text(t) for t in tags] if isinstance(tags, (list, tuple)) else []
    ident = text(raw.get("id")) or f"entry/{index}"
    return {
        "id": ident,
        "phase": text(raw.get("phase")) or "unknown",
        "name": text(raw.get("name")) or ident,
        "status": status,
        "observed": raw.get("observed"),
        "expected": raw.get("expected"),
        "message": text(raw.get("message")),
        "duration_s": number(raw.get("duration_s")) or 0.0,
        "tags": tags,
        "location": text(raw.get("location")) or None,
    }


def entries(doc: Any) -> list[dict[str, Any]]:
    """The document's entries, normalised, in their recorded order."""
    raw = mapping(doc).get("entries")
    if not isinstance(raw, (list, tuple)):
        return []
    return [entry(e, i) for i, e in enumerate(raw, 1)]


def count_statuses(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many entries have each summary status; an unknown status counts as an error."""
    return status_counts(e["status"] for e in items)


def summary(doc: Any) -> dict[str, Any]:
    """The document's summary, with any missing or malformed key recomputed from the entries."""
    interrupted = mapping(doc).get("interrupted") is True
    computed = summarize((e["status"] for e in entries(doc)), interrupted=interrupted)
    given = mapping(mapping(doc).get("summary"))
    out = dict(computed)
    for key, default in computed.items():
        value = given.get(key)
        if key == "verdict":
            out[key] = value if isinstance(value, str) and value else default
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = value
    if interrupted:
        out["verdict"] = "INTERRUPTED"      # even a saved ledger that says PASS: it never finished
    return out


def client(doc: Any) -> dict[str, Any]:
    """The client section, or an empty dict."""
    return mapping(mapping(doc).get("client"))


def header(doc: Any) -> dict[str, Any]:
    """Contract name, target, start time, duration and the interrupted flag."""
    d = mapping(doc)
    return {"contract": text(d.get("contract")) or "(unnamed contract)",
            "target": text(d.get("target")), "started_at": text(d.get("started_at")),
            "duration_s": number(d.get("duration_s")) or 0.0,
            "interrupted": d.get("interrupted") is True}


def phase_order(items: Iterable[Mapping[str, Any]]) -> list[str]:
    """Phases present, in pipeline order, then unknown phases in order of first appearance."""
    seen: list[str] = []
    for e in items:
        if e["phase"] not in seen:
            seen.append(e["phase"])
    known = [p for p in PHASES if p in seen]
    return known + [p for p in seen if p not in PHASES]


def by_phase(items: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Entries grouped by phase, phases in pipeline order, entries in recorded order."""
    return [(p, [e for e in items if e["phase"] == p]) for p in phase_order(items)]


def percent(rate: Any) -> str:
    """A 0..1 rate as '95.7%'."""
    value = number(rate, None)
    return "n/a" if value is None else f"{value * 100:.1f}%"


def seconds(value: Any, digits: int = 3) -> str:
    """A duration as '0.123s', or 'n/a'."""
    v = number(value, None)
    return "n/a" if v is None else f"{v:.{digits}f}s"
