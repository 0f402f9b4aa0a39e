"""Prometheus exposition text (classic and OpenMetrics) → the endpoint's evaluation document.

The document keeps the shape existing contracts read, `{sample name: value summed over label
sets, _samples: [{name, labels, value, type}]}`, and adds what the selector functions need: each
sample's `family`, and `_families: {family: {type, help}}` and `_format`.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

OPENMETRICS_TYPE = "application/openmetrics-text"
#: suffixes by which a sample belongs to a family of another name (classic text, OpenMetrics)
SUFFIXES = ("_total", "_created", "_bucket", "_count", "_sum", "_gcount", "_gsum", "_info")


def is_openmetrics(text: str, content_type: str | None = None) -> bool:
    """OpenMetrics by its Content-Type, or by the `# EOF` line that ends every OpenMetrics text."""
    if content_type and OPENMETRICS_TYPE in content_type.lower():
        return True
    return text.rstrip().endswith("\n# EOF") or text.strip() == "# EOF"


def _families(text: str, content_type: str | None) -> Iterable[Any]:
    if is_openmetrics(text, content_type):
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        return text_string_to_metric_families(text)
    from prometheus_client.parser import text_string_to_metric_families
    return list(text_string_to_metric_families(text))


_SAMPLE_NAME = re.compile(r"[^{\s]+")


def _exposed_names(text: str) -> set[str]:
    """The sample names as the classic TEXT writes them (the first token of each sample line)."""
    names = set()
    for line in text.splitlines():
        line = line.lstrip()
        if line and not line.startswith("#"):
            match = _SAMPLE_NAME.match(line)
            if match:
                names.add(match.group())
    return names


def _as_exposed(name: str, kind: str, exposed: set[str] | None) -> str:
    """NAME as the server wrote it: the classic parser appends `_total` to a counter sample that lacks it
    (TGI's metrics-rs counters such as `tgi_request_success`), and Prometheus itself keeps the name as
    scraped, so selectors must see it unchanged."""
    if exposed is None or kind != "counter" or not name.endswith("_total") or name in exposed:
        return name
    stem = name[: -len("_total")]
    return stem if stem in exposed else name


def _owner(sample_name: str, declared: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """The declared family a sample belongs to when the classic parser left it untyped."""
    for suffix in SUFFIXES:
        if sample_name.endswith(suffix) and sample_name[: -len(suffix)] in declared:
            return sample_name[: -len(suffix)], declared[sample_name[: -len(suffix)]][0]
    return None


def parse(text: str, content_type: str | None = None) -> dict[str, Any]:
    """Parse exposition TEXT with the Prometheus project's own parsers (raises ValueError)."""
    families = list(_families(text, content_type))
    # OpenMetrics requires the _total suffix on counters, so only classic text can be renamed
    exposed = None if is_openmetrics(text, content_type) else _exposed_names(text)
    declared = {f.name: (f.type, f.documentation) for f in families if f.type != "unknown" or f.documentation}
    out: dict[str, Any] = {}
    samples: list[dict[str, Any]] = []
    meta: dict[str, dict[str, str]] = {}
    for family in families:
        for s in family.samples:
            fam, kind = family.name, family.type
            if kind == "unknown":
                fam, kind = _owner(s.name, declared) or (fam, kind)
            meta.setdefault(fam, {"type": kind, "help": declared.get(fam, ("", family.documentation))[1]})
            name = _as_exposed(s.name, kind, exposed)
            out[name] = out.get(name, 0) + s.value
            samples.append({"name": name, "labels": dict(s.labels), "value": s.value,
                            "type": kind, "family": fam})
    for name, (kind, doc) in declared.items():
        meta.setdefault(name, {"type": kind, "help": doc})
    out["_samples"] = samples
    out["_families"] = meta
    out["_format"] = "openmetrics" if is_openmetrics(text, content_type) else "prometheus"
    return out


def is_document(value: Any) -> bool:
    """Whether VALUE is a document this module produced (so `delta` treats it per series)."""
    return (isinstance(value, dict) and isinstance(value.get("_samples"), list)
            and isinstance(value.get("_families"), dict))


def missing(document: dict[str, Any], names: Iterable[str]) -> list[str]:
    """The NAMES a parsed DOCUMENT does not expose: neither a sample name nor a declared family
    (with or without a `_total`/`_bucket`/... suffix). A family counts from its # TYPE/# HELP
    lines alone, since a labelled metric with no series yet is still exposed that way."""
    known = {s["name"] for s in document.get("_samples", ())} | set(document.get("_families", {}))
    def exposed(name: str) -> bool:
        return name in known or any(name.endswith(x) and name[: -len(x)] in known for x in SUFFIXES)
    return [n for n in names if not exposed(n)]
