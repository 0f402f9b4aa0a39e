"""What a contract's expressions read, checked against what the contract knows of the document:
misspelt paths where the shape is known, Prometheus selectors, and `tolerance: bucket`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.contract.selectors import PromEndpoint, endpoint_facts, quantile_calls, selector_errors
from fakeai_contract.contract.shape import jmespath_key, ledger_schema, misspelt
from fakeai_contract.checks.operators import BUCKET
from fakeai_contract.errors import ContractError, Location, did_you_mean


@dataclass(frozen=True)
class Known:
    """The contract's knowledge of the evaluation document: Prometheus endpoints and closed shapes."""

    prometheus: Mapping[str, PromEndpoint] = field(default_factory=dict)
    shapes: Mapping[str, tuple[Any, Any, bool]] = field(default_factory=dict)


def _schema(store: SchemaStore, name: Any) -> Any:
    try:
        return store.validator(str(name)).schema
    except ContractError:
        return None                      # reported where the schema is named


def known_document(tree: Mapping[str, Any], store: SchemaStore, variables: Iterable[str] | None = None) -> Known:
    """What TREE (a resolved contract) says about the shape of its evaluation document (VARIABLES:
    the names `vars` will hold; None: those TREE declares)."""
    ledger = ledger_schema()
    shapes: dict[str, tuple[Any, Any, bool]] = {"client": (ledger["$defs"]["client"], ledger, True)}
    declared = list(variables) if variables is not None else list(tree.get("vars") or {})
    shapes["vars"] = ({"type": "object", "properties": dict.fromkeys(map(str, declared), {}),
                       "additionalProperties": False}, None, False)
    health = tree.get("health")
    if isinstance(health, Mapping) and health.get("schema"):
        schema = _schema(store, health["schema"])
        if schema is not None:
            shapes["health"] = (schema, schema, False)
    endpoints = {k: v for k, v in (tree.get("endpoints") or {}).items() if isinstance(v, Mapping)}
    for name, ep in endpoints.items():
        if ep.get("schema") and ep.get("format", "json") == "json":
            schema = _schema(store, ep["schema"])
            if schema is not None:
                for root in (name, f"before.{name}", f"delta.{name}"):
                    shapes[root] = (schema, schema, False)
    return Known(endpoint_facts(endpoints, store), shapes)


def read_errors(text: str, what: str, loc: Location | None, known: Known) -> list[ContractError]:
    """Selector problems, and paths of TEXT that name a key their document cannot have."""
    errors = selector_errors(text, what, loc, known.prometheus)
    for path, parent, keys, key in misspelt(text, known.shapes):
        hint = did_you_mean(key, keys)
        suggestion = f"{parent}.{jmespath_key(hint)}" if hint else None
        shown = ", ".join(keys) if len(keys) <= 12 else ", ".join(keys[:12]) + ", ..."
        errors.append(ContractError(
            f"{what} reads {path}, but {parent} has no key {key!r}"
            + (f"; did you mean {suggestion}?" if hint else f" (it has: {shown})"), loc,
            fix=f"write {suggestion}" if hint else f"read one of {parent}'s keys: {shown}"))
    return errors


def bucket_errors(name: str, tolerance: Any, texts: list[str], loc: Location | None) -> list[ContractError]:
    """`tolerance: bucket` needs exactly one histogram_quantile() call among the check's expressions."""
    if tolerance != BUCKET:
        return []
    calls = quantile_calls(texts)
    if calls == 1:
        return []
    if calls == 0:
        return [ContractError(f"check {name!r}: tolerance: bucket is the width of the bucket the server's "
                              "histogram_quantile() falls in, but the check calls no histogram_quantile()", loc,
                              fix="compare histogram_quantile(`0.5`, delta.<endpoint>, '<histogram>') with a client "
                                  "figure such as client.ttft_s.p50, or give a number (0.01) or a percentage ('5%')")]
    return [ContractError(f"check {name!r}: tolerance: bucket needs one histogram_quantile() call to take the bucket "
                          f"from, but the check calls it {calls} times", loc,
                          fix="compare one server quantile with a client figure, or give a number or a percentage")]
