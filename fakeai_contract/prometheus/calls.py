"""The Prometheus function calls written in an expression, read from its syntax tree (lint, explain)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from fakeai_contract.prometheus.functions import SELECTOR_ARGUMENT
from fakeai_contract.prometheus.histogram import base_name
from fakeai_contract.prometheus.selector import Selector, parse

#: function → what it computes, as `explain` words it ({sel}: the selector written out)
WORDS = {
    "metric": "sum of the series {sel}",
    "histogram_quantile": "{q} quantile of histogram {sel}",
    "histogram_count": "observation count of histogram {sel}",
    "histogram_sum": "sum of the observations of histogram {sel}",
    "histogram_mean": "mean observation of histogram {sel}",
}
#: what a document argument's root means
DOCUMENTS = {"delta": "the run's increase, per series", "before": "before the run", None: "after the run"}


@dataclass(frozen=True)
class WrittenCall:
    """One call as written: the function, its selector and document argument, and a literal q."""

    function: str
    selector: str | None        # the selector when written as a string literal
    document: tuple[str, ...]   # the document argument as a dotted path ('delta', 'prom'); () if not a path
    q: float | None = None      # histogram_quantile's q when written as a literal

    @property
    def snapshot(self) -> str | None:
        """'before' or 'delta' when the document is a snapshot of an endpoint."""
        return self.document[0] if len(self.document) == 2 and self.document[0] in ("before", "delta") else None

    @property
    def endpoint(self) -> str | None:
        """The endpoint whose document the call reads, when the argument names one."""
        if self.snapshot:
            return self.document[1]
        return self.document[0] if len(self.document) == 1 else None

    def column_in(self, text: str) -> int:
        """0-based offset of the selector inside the expression TEXT (0 when it cannot be found)."""
        return max(text.find(self.selector), 0) if self.selector else 0

    def describe(self) -> str:
        """The call in words, its selector written out the way PromQL writes it."""
        try:
            selector: Any = parse(self.selector) if self.selector is not None else None
        except ValueError:
            selector = None
        sel = f"`{_written(selector, self.function)}`" if selector is not None else "(a computed selector)"
        q = f"{self.q:g} (p{self.q * 100:g})" if self.q is not None and 0 <= self.q <= 1 else "the q"
        where = ".".join(self.document) or "a computed document"
        return f"{WORDS[self.function].format(sel=sel, q=q)} in {where} ({DOCUMENTS[self.snapshot]})"


def _written(selector: Selector, function: str) -> str:
    if function != "metric":       # a histogram is named by its family, whatever suffix was written
        selector = selector.with_name(base_name(selector))
    return str(selector)


def _path(node: dict) -> tuple[str, ...]:
    if node.get("type") == "field":
        return (node["value"],)
    if node.get("type") == "subexpression":
        parts: tuple[str, ...] = ()
        for child in node.get("children", ()):
            part = _path(child)
            if not part:
                return ()
            parts += part
        return parts
    return ()


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for child in node.get("children", ()):
            yield from _walk(child)


def written_calls(parsed: dict) -> list[WrittenCall]:
    """Every call of metric() and the histogram functions in a parsed JMESPath expression."""
    found = []
    for node in _walk(parsed):
        name = node.get("value")
        if node.get("type") != "function_expression" or name not in SELECTOR_ARGUMENT:
            continue
        args = node.get("children", [])
        at = SELECTOR_ARGUMENT[name]
        if len(args) <= at:
            continue                     # a wrong arity is JMESPath's own error at run time
        sel = args[at]
        selector = sel["value"] if sel.get("type") == "literal" and isinstance(sel.get("value"), str) else None
        first = args[0]
        q = first.get("value") if name == "histogram_quantile" and first.get("type") == "literal" else None
        found.append(WrittenCall(name, selector, _path(args[at - 1]),
                                 float(q) if isinstance(q, (int, float)) and not isinstance(q, bool) else None))
    return found
