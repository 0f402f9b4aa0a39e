"""Pure evaluation of a check over the evaluation document: operator table, tolerances."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from fakeai_contract import expr
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


def tolerance_for(tolerance: float | str | None, expected: float) -> float:
    """The absolute slack a tolerance allows around EXPECTED ('2%' is relative to it)."""
    if tolerance is None:
        return 0.0
    if isinstance(tolerance, str):
        text = tolerance.strip()
        if text.endswith("%"):
            return abs(expected) * float(text[:-1]) / 100.0
        return float(text)
    return float(tolerance)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return str(value)


def _operand(value: Any, doc: dict) -> Any:
    """A string operand is a JMESPath expression; anything else is a literal."""
    if isinstance(value, str):
        result = expr.search(value, doc)
        if result is None:
            raise _Unavailable(f"{value} is missing")
        return result
    return value


def _need_number(label: str, value: Any) -> float:
    if not expr.is_number(value):
        raise TypeError(f"{label} is {_fmt(value)} ({type(value).__name__}), not a number")
    return value


def _compare(sym: str, test: Callable[[float, float], bool], widen: int):
    def run(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
        exp = _need_number("expected", _operand(check.expected, doc))
        obs = _need_number(check.that, observed)
        slack = tolerance_for(check.tolerance, exp) * widen
        ok = test(obs, exp + slack)
        tol = f" (tolerance {check.tolerance})" if check.tolerance not in (None, 0) else ""
        return ok, exp, f"{check.that} = {_fmt(obs)}; expected {sym} {_fmt(exp)}{tol}"
    return run


def _equals(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
    exp = _operand(check.expected, doc)
    if expr.is_number(exp) and expr.is_number(observed):
        slack = tolerance_for(check.tolerance, exp)
        ok = abs(observed - exp) <= slack + 1e-12 * max(1.0, abs(exp))
        tol = f" ± {_fmt(slack)}" if slack else ""
        return ok, exp, f"{check.that} = {_fmt(observed)}; expected {_fmt(exp)}{tol}"
    return observed == exp, exp, f"{check.that} = {_fmt(observed)}; expected {_fmt(exp)}"


def _between(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
    lo, hi = (_need_number("bound", _operand(b, doc)) for b in check.expected)
    obs = _need_number(check.that, observed)
    slack = tolerance_for(check.tolerance, max(abs(lo), abs(hi)))
    return (lo - slack <= obs <= hi + slack, [lo, hi],
            f"{check.that} = {_fmt(obs)}; expected between {_fmt(lo)} and {_fmt(hi)}")


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "number": expr.is_number,
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def json_type(value: Any) -> str:
    """The JSON type name of VALUE."""
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](value):
            return name
    return type(value).__name__


def _type(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
    wanted = [check.expected] if isinstance(check.expected, str) else list(check.expected)
    ok = any(_JSON_TYPES[t](observed) for t in wanted)
    return ok, wanted, f"{check.that} = {_fmt(observed)} is {json_type(observed)}; expected {' or '.join(wanted)}"


def _matches(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
    text = observed if isinstance(observed, str) else _fmt(observed)
    ok = re.search(check.expected, text) is not None
    return ok, check.expected, f"{check.that} = {_fmt(observed)}; expected to match /{check.expected}/"


def _exists(check: Check, observed: Any, doc: dict) -> tuple[bool, Any, str]:
    present = path_exists(check.that, doc)
    want = bool(check.expected)
    word = "present" if present else "absent"
    return present == want, want, f"{check.that} is {word}; expected {'present' if want else 'absent'}"


#: operator name → evaluator (check, observed, document) → (held, resolved expected, message)
OPERATORS: dict[str, Callable[[Check, Any, dict], tuple[bool, Any, str]]] = {
    "equals": _equals,
    "gt": _compare(">", lambda o, e: o > e, -1),
    "ge": _compare(">=", lambda o, e: o >= e, -1),
    "lt": _compare("<", lambda o, e: o < e, 1),
    "le": _compare("<=", lambda o, e: o <= e, 1),
    "between": _between,
    "exists": _exists,
    "type": _type,
    "matches": _matches,
}


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
    texts = [check.that]
    if check.op in ("equals", "gt", "ge", "lt", "le") and isinstance(check.expected, str):
        texts.append(check.expected)
    if check.op == "between":
        texts.extend(b for b in check.expected if isinstance(b, str))
    return texts


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
    if observed is None and check.op not in ("exists", "type"):
        return Outcome(_failed(check), None, check.expected,
                       f"{check.that} is missing or null; expected {check.op} {_fmt(check.expected)}")
    try:
        held, expected, message = OPERATORS[check.op](check, observed, doc)
    except _Unavailable as exc:
        return Outcome(_failed(check), observed, check.expected, f"expected value {exc}")
    except (TypeError, ValueError, re.error, expr.JMESPathError) as exc:
        return Outcome(_failed(check), observed, check.expected, f"{exc}")
    return Outcome(Status.PASS if held else _failed(check), observed, expected, message)


def _failed(check: Check) -> Status:
    return Status.WARN if check.severity == "warn" else Status.FAIL
