"""Lint of the Prometheus calls in a contract's expressions: the selector's syntax, the endpoint the
call reads, and the metric names that endpoint declares (`metrics: [...]`, or a closed schema)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from fakeai_contract import expr
from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.contract.shape import closed_keys
from fakeai_contract.errors import ContractError, Location, did_you_mean
from fakeai_contract.prometheus import HISTOGRAM_FUNCTIONS, SelectorError, parse_selector
from fakeai_contract.prometheus.calls import WrittenCall, written_calls
from fakeai_contract.prometheus.histogram import base_name
from fakeai_contract.prometheus.parse import SUFFIXES   # a sample name's belonging to a family

EXAMPLE = "'vllm:request_success_total{finished_reason=\"stop\", model_name=~\"llama.*\"}'"
#: the start of a selector error's reason → the fix to print
_FIXES = (
    ("unterminated string", "close the label value with the quote that opened it"),
    ("newline in", "keep the label value on one line (write \\n for a newline)"),
    ("expected ',' or '}'", "separate matchers with ',' and close them with '}'"),
    ("expected one of", 'write label="value", label!="value", label=~"regex" or label!~"regex"'),
    ("expected a quoted", 'quote the label value: label="value"'),
    ("expected a label name", "a label name is letters, digits and '_', not starting with a digit"),
    ("expected a metric name", "start with the metric name (letters, digits, '_' and ':') or with '{'"),
    ("invalid regular expression", "fix the regular expression (PromQL anchors it at both ends)"),
    ("metric name set twice", "drop the __name__ matcher or the name in front"),
    ("a selector needs", 'name the metric, or add a matcher that does not match "", e.g. __name__=~"vllm:.+"'),
)


@dataclass(frozen=True)
class PromEndpoint:
    """What a contract says about an endpoint's document: its format and the metric names it declares."""

    format: str
    names: frozenset[str] | None       # None: not declared, so any name may appear
    declared_by: str = ""


def endpoint_facts(endpoints: Mapping[str, Any], store: SchemaStore) -> dict[str, PromEndpoint]:
    """The declared endpoints' formats and metric names (a list, or a closed schema's properties)."""
    facts = {}
    for name, ep in endpoints.items():
        if not isinstance(ep, Mapping):
            continue
        fmt = str(ep.get("format", "json"))
        if ep.get("metrics") is not None:
            names = [*ep["metrics"], *(ep.get("optional_metrics") or ())]
            facts[name] = PromEndpoint(fmt, frozenset(map(str, names)), f"endpoints.{name}.metrics")
            continue
        keys = None
        if fmt == "prometheus" and ep.get("schema"):
            try:
                keys = closed_keys(store.validator(str(ep["schema"])).schema)
            except ContractError:
                keys = None              # reported where the schema is named
        names = frozenset(k for k in keys if not k.startswith("_")) if keys is not None else None
        facts[name] = PromEndpoint(fmt, names, f"the schema {ep['schema']}" if names is not None else "")
    return facts


def _known(name: str, function: str, names: frozenset[str]) -> bool:
    if name in names or any(name == n + s for n in names for s in SUFFIXES):
        return True
    return function in HISTOGRAM_FUNCTIONS and base_name(parse_selector(name)) in names


def _fix(exc: SelectorError) -> str:
    fix = next((f for start, f in _FIXES if exc.reason.startswith(start)), None)
    return f"{fix}; a selector looks like {EXAMPLE}" if fix else f"write a selector like {EXAMPLE}"


def _call_errors(call: WrittenCall, text: str, what: str, loc: Location | None,
                 facts: Mapping[str, PromEndpoint]) -> list[ContractError]:
    try:
        selector = parse_selector(call.selector)
    except SelectorError as exc:
        column = call.column_in(text) + exc.column
        return [ContractError(f"{what}: the selector `{call.selector}` of {call.function}() is not valid: {exc.reason} "
                              f"at column {exc.column} of the selector (column {column} of the expression)",
                              loc, fix=_fix(exc))]
    if call.function in HISTOGRAM_FUNCTIONS and not selector.name:
        return [ContractError(f"{what}: {call.function}() needs the histogram's name, not only matchers: "
                              f"`{call.selector}`", loc,
                              fix="write the histogram's name first, e.g. 'vllm:time_to_first_token_seconds{model_name=\"x\"}'")]
    ep = facts.get(call.endpoint or "")
    if ep is None:
        return []                        # not an endpoint: reported by the expression's own checks
    read = ".".join(call.document)
    if ep.format != "prometheus":
        return [ContractError(f"{what}: {call.function}() reads {read}, but the endpoint {call.endpoint!r} is "
                              f"format {ep.format}, not prometheus", loc,
                              fix=f"add format: prometheus to endpoints.{call.endpoint}")]
    if ep.names is None or selector.name is None or _known(selector.name, call.function, ep.names):
        return []
    hint = did_you_mean(selector.name, sorted(ep.names | {n + s for n in ep.names for s in SUFFIXES}))
    return [ContractError(f"{what}: {call.function}() selects {selector.name!r}, which {ep.declared_by} does not "
                          f"declare" + (f"; did you mean {hint!r}?" if hint else ""), loc,
                          fix=f"write {hint!r} instead" if hint else f"add {selector.name!r} to {ep.declared_by}")]


def selector_errors(text: str, what: str, loc: Location | None,
                    facts: Mapping[str, PromEndpoint]) -> list[ContractError]:
    """Problems with the Prometheus calls in the expression TEXT (its syntax is checked elsewhere)."""
    try:
        parsed = expr.compile_expression(text).parsed
    except (expr.JMESPathError, ValueError, TypeError, RecursionError):
        return []
    errors = []
    for call in written_calls(parsed):
        if call.selector is not None:
            errors += _call_errors(call, text, what, loc, facts)
    return errors


def quantile_calls(texts: list[str]) -> int:
    """How many histogram_quantile() calls the expressions TEXTS write."""
    count = 0
    for text in texts:
        try:
            parsed = expr.compile_expression(text).parsed
        except (expr.JMESPathError, ValueError, TypeError, RecursionError):
            continue
        count += sum(c.function == "histogram_quantile" for c in written_calls(parsed))
    return count
