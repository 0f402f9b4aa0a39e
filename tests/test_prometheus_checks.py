"""Checks over Prometheus documents: `tolerance: bucket` by its rule, and messages naming the selector
and how many series it matched."""

from __future__ import annotations

import pytest

from fakeai_contract import prometheus
from fakeai_contract.checks.rules import evaluate
from fakeai_contract.ledger import Status
from fakeai_contract.model import Check


def histogram(*counts: tuple[str, int]) -> dict:
    """A document with the histogram h: (le, cumulative count) pairs; +Inf must be among them."""
    lines = ["# TYPE h histogram"]
    lines += [f'h_bucket{{le="{le}"}} {n}' for le, n in counts]
    lines += [f"h_count {counts[-1][1]}", "h_sum 1"]
    return {"d": prometheus.parse("\n".join(lines) + "\n"), "client": {"p50": None}}


def quantile_check(expected, op: str = "equals", q: str = "0.5") -> Check:
    return Check(id="check/q", name="q", that=f"histogram_quantile(`{q}`, d, 'h')", op=op, expected=expected,
                 tolerance="bucket")


MIDDLE = histogram(("0.01", 0), ("0.02", 10), ("0.05", 10), ("+Inf", 10))   # p50 = 0.015 in (0.01, 0.02]


@pytest.mark.parametrize("expected, status", [(0.024, Status.PASS), (0.0051, Status.PASS), (0.026, Status.FAIL),
                                              (0.004, Status.FAIL)])
def test_bucket_tolerance_is_the_width_of_the_quantile_s_bucket(expected, status):
    out = evaluate(quantile_check(expected), MIDDLE)
    assert out.status is status, out.message
    assert "± 0.01, the bucket (0.01, 0.02]" in out.message
    assert "[1 series matched `h`]" not in out.message and "4 series matched `h`" in out.message


def test_first_bucket_is_from_zero_to_its_bound():
    doc = histogram(("0.01", 10), ("0.02", 10), ("+Inf", 10))                # p50 = 0.005 in (0, 0.01]
    assert evaluate(quantile_check(0.0149), doc).status is Status.PASS
    out = evaluate(quantile_check(0.0151), doc)
    assert out.status is Status.FAIL and "the bucket (0, 0.01]" in out.message


@pytest.mark.parametrize("counts, edge", [
    ((("0.01", 0), ("0.05", 0), ("+Inf", 10)), "(0.05, +Inf]"),              # all mass above the last bound
    ((("-1", 10), ("0", 10), ("+Inf", 10)), "(-Inf, -1]"),                   # a first bound <= 0: no lower end
])
def test_a_bucket_without_width_fails_even_when_the_values_agree(counts, edge):
    doc = histogram(*counts)
    value = evaluate(Check(id="c", name="c", that="histogram_quantile(`0.5`, d, 'h')", op="exists", expected=True),
                     doc).observed
    out = evaluate(quantile_check(value), doc)
    assert out.status is Status.FAIL
    assert f"falls in the bucket {edge}, which has no width" in out.message


def test_no_observations_is_nan_and_fails():
    out = evaluate(quantile_check(0.01), histogram(("0.01", 0), ("+Inf", 0)))
    assert out.status is Status.FAIL and "= nan; expected 0.01" in out.message


def test_the_quantile_may_be_the_expected_side():
    check = Check(id="c", name="c", that="client_p50", op="le", expected="histogram_quantile(`0.5`, d, 'h')",
                  tolerance="bucket")
    assert evaluate(check, {**MIDDLE, "client_p50": 0.024}).status is Status.PASS      # 0.015 + 0.01
    out = evaluate(check, {**MIDDLE, "client_p50": 0.026})
    assert out.status is Status.FAIL and "(tolerance bucket (0.01, 0.02])" in out.message


def test_a_selector_that_matched_nothing_is_named_in_the_message():
    doc = histogram(("1", 1), ("+Inf", 1))
    out = evaluate(Check(id="c", name="c", that="metric(d, 'h_count{model_name=\"x\"}')", op="equals", expected=1),
                   doc)
    assert out.status is Status.FAIL
    assert out.message.endswith('[0 series matched `h_count{model_name="x"}`]')
