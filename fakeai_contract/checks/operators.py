"""The comparison operators a check may use: one table of each operator's facts, read by every stage.

Validation (which keys a check may carry, which operands are expressions, where tolerance applies),
the contract builder, `explain` and the evaluator all read `OPERATORS`; adding an operator is one
entry here (plus its property in schemas/contract.schema.json, which a test holds to this table).
Each `judge` is a pure function of values already resolved: the evaluator resolves expression
operands, decides what a null `that` means, and writes the message "`that` <seen>; expected <wanted>".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Iterator

from fakeai_contract.checks.jsontypes import has_type, is_number, json_type


class Operand(Enum):
    """What an operator's operand is."""

    EXPRESSION = "expression"   # a string is a JMESPath expression; anything else is a literal
    BOUNDS = "bounds"           # [lo, hi]: each a number or a JMESPath expression
    REGEX = "regex"             # a Python regular expression
    LITERAL = "literal"         # a literal the operator reads as it is (a boolean, type names)


class NotANumber(TypeError):
    """A value an operator compares numerically is not a number; ROLE is None for `that` itself."""

    def __init__(self, role: str | None, value: Any):
        super().__init__(role, value)
        self.role, self.value = role, value

    def describe(self, that: str) -> str:
        """The message, naming `that` when the observed value is the culprit."""
        return f"{self.role or that} is {show(self.value)} ({type(self.value).__name__}), not a number"


#: the tolerance that is the width of the bucket a check's histogram_quantile() falls in
BUCKET = "bucket"


@dataclass(frozen=True)
class Tolerance:
    """A check's tolerance as written (None, an absolute number, 'N%' or 'bucket'); `slack` makes it absolute."""

    given: float | str | None = None
    bucket: tuple[float, float] | None = None    # for 'bucket': the server quantile's bucket (lower, upper]

    def slack(self, around: float) -> float:
        """The absolute slack around the value AROUND ('2%' is relative to it, 'bucket' is its width)."""
        if self.given == BUCKET:
            return self.bucket[1] - self.bucket[0] if self.bucket else 0.0
        return tolerance_for(self.given, around)

    def __bool__(self) -> bool:
        return self.given not in (None, 0)

    def __str__(self) -> str:
        if self.given == BUCKET and self.bucket:
            return f"bucket ({show(self.bucket[0])}, {show(self.bucket[1])}]"
        return str(self.given)


@dataclass(frozen=True)
class Judgement:
    """What an operator found: whether it held, the resolved expected value, and the message parts."""

    held: bool
    expected: Any
    wanted: str                  # the message after "expected "
    seen: str | None = None      # the message after `that`; None: "= <observed>"


@dataclass(frozen=True)
class Operator:
    """One operator's facts."""

    name: str
    words: str                   # how `explain` writes it between `that` and the operand
    operand: Operand
    tolerant: bool               # whether `tolerance` applies
    null_fails: bool             # a missing or null `that` fails at once instead of being judged
    presence: bool               # judged on whether `that` names a present key, not on its value
    judge: Callable[[Any, Any, Tolerance], Judgement]   # (observed, resolved operand, tolerance)


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


def show(value: Any) -> str:
    """VALUE as messages print it."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return str(value)


def _number(role: str | None, value: Any) -> float:
    if not is_number(value):
        raise NotANumber(role, value)
    return value


def _ordering(symbol: str, test: Callable[[float, float], bool], widen: int):
    """gt/ge/lt/le: tolerance widens the bound in the permissive direction."""
    def judge(observed: Any, expected: Any, tolerance: Tolerance) -> Judgement:
        exp = _number("expected", expected)
        obs = _number(None, observed)
        held = test(obs, exp + tolerance.slack(exp) * widen)
        tol = f" (tolerance {tolerance})" if tolerance else ""
        return Judgement(held, exp, f"{symbol} {show(exp)}{tol}")
    return judge


def _equals(observed: Any, expected: Any, tolerance: Tolerance) -> Judgement:
    if is_number(expected) and is_number(observed):
        slack = tolerance.slack(expected)
        held = abs(observed - expected) <= slack + 1e-12 * max(1.0, abs(expected))
        within = f" ± {show(slack)}" if slack else ""
        return Judgement(held, expected, show(expected) + within + (f", the {tolerance}" if tolerance.bucket else ""))
    return Judgement(observed == expected, expected, show(expected))


def _between(observed: Any, expected: Any, tolerance: Tolerance) -> Judgement:
    lo, hi = (_number("bound", b) for b in expected)
    obs = _number(None, observed)
    slack = tolerance.slack(max(abs(lo), abs(hi)))
    tol = f" (tolerance {tolerance})" if tolerance else ""
    return Judgement(lo - slack <= obs <= hi + slack, [lo, hi], f"between {show(lo)} and {show(hi)}{tol}")


def _type(observed: Any, expected: Any, tolerance: Tolerance) -> Judgement:
    wanted = [expected] if isinstance(expected, str) else list(expected)
    held = has_type(observed, wanted)
    return Judgement(held, wanted, " or ".join(wanted), seen=f"= {show(observed)} is {json_type(observed)}")


def _matches(observed: Any, expected: Any, tolerance: Tolerance) -> Judgement:
    text = observed if isinstance(observed, str) else show(observed)
    return Judgement(re.search(expected, text) is not None, expected, f"to match /{expected}/")


def _exists(present: bool, expected: Any, tolerance: Tolerance) -> Judgement:
    want = bool(expected)
    word = {True: "present", False: "absent"}
    return Judgement(present == want, want, word[want], seen=f"is {word[present]}")


#: operator name → its facts, in the order messages list them
OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("equals", "==", Operand.EXPRESSION, tolerant=True, null_fails=True, presence=False, judge=_equals),
    Operator("gt", ">", Operand.EXPRESSION, tolerant=True, null_fails=True, presence=False,
             judge=_ordering(">", lambda o, e: o > e, -1)),
    Operator("ge", ">=", Operand.EXPRESSION, tolerant=True, null_fails=True, presence=False,
             judge=_ordering(">=", lambda o, e: o >= e, -1)),
    Operator("lt", "<", Operand.EXPRESSION, tolerant=True, null_fails=True, presence=False,
             judge=_ordering("<", lambda o, e: o < e, 1)),
    Operator("le", "<=", Operand.EXPRESSION, tolerant=True, null_fails=True, presence=False,
             judge=_ordering("<=", lambda o, e: o <= e, 1)),
    Operator("between", "between", Operand.BOUNDS, tolerant=True, null_fails=True, presence=False,
             judge=_between),
    Operator("exists", "exists", Operand.LITERAL, tolerant=False, null_fails=False, presence=True,
             judge=_exists),
    Operator("type", "is of type", Operand.LITERAL, tolerant=False, null_fails=False, presence=False,
             judge=_type),
    Operator("matches", "matches", Operand.REGEX, tolerant=False, null_fails=True, presence=False,
             judge=_matches),
)}


def operand_expressions(op: str, operand: Any) -> Iterator[tuple[int | None, str]]:
    """The JMESPath expressions in OP's OPERAND, each with its index in a list operand (else None)."""
    kind = OPERATORS[op].operand
    if kind is Operand.EXPRESSION and isinstance(operand, str):
        yield None, operand
    elif kind is Operand.BOUNDS and isinstance(operand, list):
        yield from ((i, b) for i, b in enumerate(operand) if isinstance(b, str))
