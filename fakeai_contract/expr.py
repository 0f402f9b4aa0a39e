"""JMESPath with the project's extra functions, compiled once and cached."""

from __future__ import annotations

import functools
import math
from typing import Any, Iterator

import jmespath
from jmespath import exceptions as jexc
from jmespath import functions

from fakeai_contract.prometheus.functions import SELECTOR_ARGUMENT, PrometheusFunctions


class Functions(PrometheusFunctions, functions.Functions):
    """Arithmetic the consistency rules need, beyond standard JMESPath.

    Each returns null when an argument is null, so a missing metric yields a check that could not
    be evaluated rather than a crash.
    """

    @functions.signature({"types": ["number", "null"]}, {"types": ["number", "null"]})
    def _func_sub(self, a, b):
        return None if a is None or b is None else a - b

    @functions.signature({"types": ["number", "null"]}, {"types": ["number", "null"]})
    def _func_add(self, a, b):
        return None if a is None or b is None else a + b

    @functions.signature({"types": ["number", "null"]}, {"types": ["number", "null"]})
    def _func_mul(self, a, b):
        return None if a is None or b is None else a * b

    @functions.signature({"types": ["number", "null"]}, {"types": ["number", "null"]})
    def _func_div(self, a, b):
        if a is None or b is None or b == 0:
            return None
        return a / b

    @functions.signature({"types": ["number", "null"]})
    def _func_neg(self, a):
        return None if a is None else -a

    @functions.signature({"types": ["number", "null"]}, {"types": ["number"]})
    def _func_round(self, a, digits):
        return None if a is None else round(a, int(digits))

    @functions.signature({"types": ["array-number", "null"]}, {"types": ["number"]})
    def _func_percentile(self, values, q):
        """Linear-interpolated percentile (numpy's default) of an array; q in [0, 100]."""
        if not values:
            return None
        xs = sorted(values)
        return percentile(xs, q / 100.0)


OPTIONS = jmespath.Options(custom_functions=Functions())

#: Names of the functions beyond standard JMESPath (documented in the README).
EXTRA_FUNCTIONS = ("sub", "add", "mul", "div", "neg", "round", "percentile", *SELECTOR_ARGUMENT)


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy 'linear'); q in [0, 1]."""
    n = len(sorted_values)
    if n == 0:
        return None
    if n == 1:
        return float(sorted_values[0])
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


@functools.lru_cache(maxsize=1024)
def compile_expression(text: str):
    """Compile a JMESPath expression (raises jmespath.exceptions.ParseError)."""
    return jmespath.compile(text)


def search(text: str, document: Any) -> Any:
    """Evaluate TEXT over DOCUMENT with the project's functions."""
    return compile_expression(text).search(document, options=OPTIONS)


def _walk(node: dict) -> Iterator[dict]:
    yield node
    for child in node.get("children", ()):
        if isinstance(child, dict):
            yield from _walk(child)


def root_names(text: str) -> set[str]:
    """The top-level names an expression reads from the evaluation document (e.g. 'metrics')."""
    ast = compile_expression(text).parsed
    names: set[str] = set()

    def visit(node: dict, at_root: bool) -> None:
        kind = node.get("type")
        children = [c for c in node.get("children", ()) if isinstance(c, dict)]
        if kind == "field" and at_root:
            names.add(node["value"])
            return
        if kind in ("subexpression", "index_expression", "projection", "value_projection",
                    "filter_projection", "flatten"):
            if children:
                visit(children[0], at_root)
            for c in children[1:]:
                visit(c, False)
            return
        if kind == "expref":
            return
        for c in children:
            visit(c, at_root)

    visit(ast, True)
    return names


SNAPSHOT_ROOTS = ("before", "delta")


def snapshot_reads(text: str) -> list[tuple[str, str | None]]:
    """(before|delta, the endpoint name after it, or None) for every snapshot read anywhere in TEXT."""
    found: list[tuple[str, str | None]] = []
    for node in _walk(compile_expression(text).parsed):
        kids = [c for c in node.get("children", ()) if isinstance(c, dict)]
        if node.get("type") == "subexpression" and kids and kids[0].get("type") == "field" \
                and kids[0]["value"] in SNAPSHOT_ROOTS:
            nxt = kids[1] if len(kids) > 1 and kids[1].get("type") == "field" else None
            found.append((kids[0]["value"], nxt["value"] if nxt else None))
    return found


def function_names(text: str) -> set[str]:
    """Every function an expression calls."""
    return {n["value"] for n in _walk(compile_expression(text).parsed) if n.get("type") == "function_expression"}


def is_known_function(name: str) -> bool:
    return hasattr(OPTIONS.custom_functions, f"_func_{name}")


ParseError = jexc.ParseError
JMESPathError = jexc.JMESPathError
