"""Prometheus data: exposition parsing, PromQL-style selectors, per-series deltas, histograms."""

from fakeai_contract.prometheus.functions import (HISTOGRAM_FUNCTIONS, SELECTOR_ARGUMENT, Call,
                                                  PrometheusFunctions, trace)
from fakeai_contract.prometheus.parse import is_document, is_openmetrics, missing, parse
from fakeai_contract.prometheus.selector import Selector, SelectorError, parse as parse_selector
from fakeai_contract.prometheus.series import delta

__all__ = ["Call", "HISTOGRAM_FUNCTIONS", "PrometheusFunctions", "SELECTOR_ARGUMENT", "Selector",
           "SelectorError", "delta", "is_document", "is_openmetrics", "missing", "parse", "parse_selector", "trace"]
