"""Pure evaluation of a check over the evaluation document, by the operator table's facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fakeai_contract import expr, prometheus
from fakeai_contract.checks import operators as operands
from fakeai_contract.checks.jsontypes import is_number
from fakeai_contract.checks.operators import BUCKET, NotANumber, Tolerance, show
from fakeai_contract.ledger import Status
from fakeai_contract.model import Check


@dataclass(frozen=True)
class Outcome:
    """The result of one evaluation of a check."""

    status: Status
    observed: Any
    expected: Any
    message: str


class _Unavailable(Exception):
    """An input of the check is missing: the check cannot be evaluated."""


def _resolve(text: str, doc: dict) -> Any:
    """An expression operand's value; missing or null means the check cannot compare."""
    result = expr.search(text, doc)
    if result is None:
        raise _Unavailable(f"{text} is missing")
    return result


def _operand(check: Check, doc: dict) -> Any:
    """CHECK's operand with every expression in it evaluated over DOC."""
    resolved = check.expected
    for index, text in operands.operand_expressions(check.op, check.expected):
        value = _resolve(text, doc)
        if index is None:
            return value
        resolved = [*resolved[:index], value, *resolved[index + 1:]]
    return resolved


def path_exists(text: str, doc: Any) -> bool:
    """Whether a plain dotted path names a key that is present (even if null)."""
    parsed = expr.compile_expression(text).parsed
    keys: list[str] = []

    def flatten(node: dict) -> bool:
        if node["type"] == "field":
            keys.append(node["value"])
            return True
        if node["type"] == "subexpression":
            return all(flatten(c) for c in node["children"])
        return False

    if not flatten(parsed):
        return expr.search(text, doc) is not None
    cur = doc
    for key in keys:
        if not isinstance(cur, dict) or key not in cur:
            return False
        cur = cur[key]
    return True


def missing_inputs(check: Check, doc: dict) -> list[str]:
    """Endpoint sections a check reads that are absent from the document (they did not answer)."""
    names: set[str] = set()
    for text in expressions(check):
        names |= expr.root_names(text)
    missing = []
    for name in sorted(names):
        if name in expr.SNAPSHOT_ROOTS:
            continue
        if name not in doc or doc[name] is None:
            missing.append(name)
    for text in expressions(check):
        for section, name in expr.snapshot_reads(text):
            if name and name not in (doc.get(section) or {}) and f"{section}.{name}" not in missing:
                missing.append(f"{section}.{name}")
    return missing


def expressions(check: Check) -> list[str]:
    """Every JMESPath expression a check evaluates: `that` and any expression operands."""
    return [check.that, *(text for _, text in operands.operand_expressions(check.op, check.expected))]


def _traced(outcome: Outcome, calls: list[prometheus.Call]) -> Outcome:
    """OUTCOME with the selectors its Prometheus calls used and how many series each matched."""
    seen = list(dict.fromkeys(call.describe() for call in calls))
    if not seen:
        return outcome
    return Outcome(outcome.status, outcome.observed, outcome.expected, f"{outcome.message} [{'; '.join(seen)}]")


def _bucket(calls: list[prometheus.Call]) -> tuple[tuple[float, float] | None, str]:
    """The bucket of the check's histogram_quantile() for `tolerance: bucket`, or why there is none to use."""
    quantiles = [c for c in calls if c.function == "histogram_quantile"]
    if not quantiles:
        return None, "tolerance: bucket: histogram_quantile() was not evaluated"
    lower, upper = quantiles[-1].bucket or (0.0, 0.0)
    if quantiles[-1].bucket and (lower == float("-inf") or upper == float("inf")):
        edge = f"({show(lower)}, +Inf]" if upper == float("inf") else f"(-Inf, {show(upper)}]"
        return None, (f"the server's quantile falls in the bucket {edge}, which has no width, so "
                      "tolerance: bucket cannot compare it (the histogram cannot resolve values there)")
    return quantiles[-1].bucket, ""


def _wanted(check: Check, doc: dict) -> str:
    """The operand as written, and its value when it is an expression that resolves (`client.x (= 16)`)."""
    if operands.OPERATORS[check.op].operand is not operands.Operand.EXPRESSION or not isinstance(check.expected, str):
        return show(check.expected)
    try:
        value = _operand(check, doc)
    except (_Unavailable, expr.JMESPathError):
        return check.expected
    return f"{check.expected} (= {show(value)})"


def evaluate(check: Check, doc: dict) -> Outcome:
    """Evaluate CHECK over DOC; never raises for anything the server sent."""
    with prometheus.trace() as calls:
        outcome = _evaluate(check, doc, calls)
    return _traced(outcome, calls)


def _evaluate(check: Check, doc: dict, calls: list[prometheus.Call]) -> Outcome:
    missing = missing_inputs(check, doc)
    if missing:
        return Outcome(Status.ERROR, None, check.expected,
                       f"cannot evaluate: {', '.join(missing)} did not answer")
    try:
        observed = expr.search(check.that, doc)
    except expr.JMESPathError as exc:
        return Outcome(Status.ERROR, None, check.expected, f"cannot evaluate {check.that}: {exc}")
    operator = operands.OPERATORS[check.op]
    if observed is None and operator.null_fails:
        return Outcome(_failed(check), None, check.expected,
                       f"{check.that} is missing or null; expected {check.op} {_wanted(check, doc)}")
    judged = observed if not operator.presence else path_exists(check.that, doc)
    try:
        operand = _operand(check, doc)
        tolerance = Tolerance(check.tolerance)
        if check.tolerance == BUCKET:
            bucket, why = _bucket(calls)
            if why and is_number(observed):
                return Outcome(_failed(check), observed, check.expected, f"{check.that} = {show(observed)}: {why}")
            tolerance = Tolerance(BUCKET, bucket)
        found = operator.judge(judged, operand, tolerance)
    except _Unavailable as exc:
        return Outcome(_failed(check), observed, check.expected, f"expected value {exc}")
    except NotANumber as exc:
        return Outcome(_failed(check), observed, check.expected, exc.describe(check.that))
    except (TypeError, ValueError, re.error, expr.JMESPathError) as exc:
        return Outcome(_failed(check), observed, check.expected, f"{exc}")
    seen = found.seen if found.seen is not None else f"= {show(observed)}"
    return Outcome(Status.PASS if found.held else _failed(check), observed, found.expected,
                   f"{check.that} {seen}; expected {found.wanted}")


def _failed(check: Check) -> Status:
    return Status.WARN if check.severity == "warn" else Status.FAIL
