"""The JMESPath functions over Prometheus documents, and a trace of what each call matched."""

from __future__ import annotations

import contextlib
import contextvars
import math
from dataclasses import dataclass
from typing import Any, Iterator

from jmespath import exceptions as jexc
from jmespath import functions

from fakeai_contract.prometheus import histogram, selector as sel


@dataclass(frozen=True)
class Call:
    """One evaluated call: the selector, how many series it matched, the quantile's bucket."""

    function: str
    selector: str
    series: int
    value: Any
    bucket: tuple[float, float] | None = None

    def describe(self) -> str:
        return f"{self.series} series matched `{self.selector}`"


_TRACE: contextvars.ContextVar[list[Call] | None] = contextvars.ContextVar("prometheus_trace", default=None)


@contextlib.contextmanager
def trace() -> Iterator[list[Call]]:
    """Collect the Prometheus calls evaluated inside the block."""
    calls: list[Call] = []
    token = _TRACE.set(calls)
    try:
        yield calls
    finally:
        _TRACE.reset(token)


def _record(call: Call) -> Any:
    calls = _TRACE.get()
    if calls is not None:
        calls.append(call)
    return call.value


def _selector(text: str) -> sel.Selector:
    try:
        return sel.parse(text)
    except sel.SelectorError as exc:
        raise jexc.JMESPathError(str(exc)) from None


def _histogram_selector(text: str) -> sel.Selector:
    s = _selector(text)
    if not s.name:
        raise jexc.JMESPathError(f"a histogram selector needs the histogram's name: `{text}`")
    return s


def metric(doc: dict, text: str) -> tuple[float | None, int]:
    """The sum of the values of the series TEXT selects in DOC (None when none), and their count."""
    values = [s["value"] for s in histogram.series(doc, _selector(text))]
    return (math.fsum(values) if values else None), len(values)


_DOC = {"types": ["object", "null"]}
_TEXT = {"types": ["string"]}


class PrometheusFunctions(functions.Functions):
    """metric, histogram_quantile, histogram_count, histogram_sum, histogram_mean (null when nothing matches)."""

    @functions.signature(_DOC, _TEXT)
    def _func_metric(self, doc, text):
        value, n = metric(doc or {}, text)
        return _record(Call("metric", text, n, value))

    @functions.signature({"types": ["number"]}, _DOC, _TEXT)
    def _func_histogram_quantile(self, q, doc, text):
        found, n = histogram.quantile(float(q), doc or {}, _histogram_selector(text))
        value = None if found is None else found.value
        return _record(Call("histogram_quantile", text, n, value, found.bucket if found else None))

    @functions.signature(_DOC, _TEXT)
    def _func_histogram_count(self, doc, text):
        value, n = histogram.total(doc or {}, _histogram_selector(text), "_count")
        return _record(Call("histogram_count", text, n, value))

    @functions.signature(_DOC, _TEXT)
    def _func_histogram_sum(self, doc, text):
        value, n = histogram.total(doc or {}, _histogram_selector(text), "_sum")
        return _record(Call("histogram_sum", text, n, value))

    @functions.signature(_DOC, _TEXT)
    def _func_histogram_mean(self, doc, text):
        s = _histogram_selector(text)
        total, n = histogram.total(doc or {}, s, "_sum")
        count, _ = histogram.total(doc or {}, s, "_count")
        value = None if total is None or count is None else (total / count if count else math.nan)
        return _record(Call("histogram_mean", text, n, value))


#: the functions this module adds to JMESPath, and the position of each one's selector argument
SELECTOR_ARGUMENT = {"metric": 1, "histogram_quantile": 2, "histogram_count": 1,
                     "histogram_sum": 1, "histogram_mean": 1}
HISTOGRAM_FUNCTIONS = frozenset(SELECTOR_ARGUMENT) - {"metric"}
