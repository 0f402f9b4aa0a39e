"""The evaluation document that JMESPath sees (DESIGN.md, "The evaluation document")."""

from __future__ import annotations

from typing import Any, Mapping

from fakeai_contract import prometheus
from fakeai_contract.checks.jsontypes import is_number


def delta(after: Any, before: Any) -> Any:
    """After minus before over numeric leaves; a leaf absent before counts from zero.

    Non-numeric leaves and lists are left out, so `delta` only ever holds numbers and mappings;
    a Prometheus document's delta is a Prometheus document of per-series increases.
    """
    if prometheus.is_document(after):
        return prometheus.delta(after, before if prometheus.is_document(before) else None)
    if is_number(after):
        if before is None:
            return after
        if is_number(before):
            diff = after - before
            return round(diff, 12) if isinstance(diff, float) else diff
        return None
    if isinstance(after, Mapping):
        prior = before if isinstance(before, Mapping) else {}
        out = {}
        for key, value in after.items():
            d = delta(value, prior.get(key))
            if d is not None and d != {}:
                out[key] = d
        return out
    return None


def build(*, after: Mapping[str, Any], before: Mapping[str, Any], health: Any,
          client: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """Assemble the document; endpoints that did not answer are absent (checks on them error)."""
    doc: dict[str, Any] = dict(after)
    doc["before"] = dict(before)
    doc["delta"] = {name: delta(value, before.get(name)) for name, value in after.items()
                    if name in before}
    doc["health"] = health
    doc["client"] = dict(client)
    doc["vars"] = dict(variables)
    return doc
