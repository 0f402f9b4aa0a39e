"""Pure evaluation of a check over the evaluation document, by the operator table's facts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fakeai_contract import expr
from fakeai_contract.checks import operators as operands
from fakeai_contract.checks.operators import NotANumber, Tolerance, show
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


def evaluate(check: Check, doc: dict) -> Outcome:
    """Evaluate CHECK over DOC; never raises for anything the server sent."""
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
                       f"{check.that} is missing or null; expected {check.op} {show(check.expected)}")
    judged = observed if not operator.presence else path_exists(check.that, doc)
    try:
        found = operator.judge(judged, _operand(check, doc), Tolerance(check.tolerance))
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
