"""Each operator both holds and fails; tolerances; missing inputs are errors, not failures."""

import pytest
from hypothesis import given, strategies as st

from fakeai_contract.checks.operators import tolerance_for
from fakeai_contract.checks.rules import evaluate, path_exists
from fakeai_contract.ledger import Status
from fakeai_contract.model import Check

DOC = {
    "metrics": {"total_requests": 20, "requests_per_second": None, "name": "fakeai-1.2"},
    "errors": {"total_requests": 22, "error_rate": 0.0},
    "slo": {"success_rate": 0.97},
    "streaming": {"total_streams": 10, "successful_streams": 9, "failed_streams": 1, "ttft_percentiles": {"p50": 0.01}},
    "before": {"metrics": {"total_requests": 5}},
    "delta": {"metrics": {"total_requests": 15}},
    "client": {"requests": {"total": 15}},
    "health": {"status": "healthy"},
    "vars": {},
}


def C(that, op, expected=None, tolerance=None, severity="error"):
    return Check(id="check/x", name="x", that=that, op=op, expected=expected, tolerance=tolerance, severity=severity)


@pytest.mark.parametrize("check,status", [
    (C("metrics.total_requests", "equals", "errors.total_requests", 2), Status.PASS),
    (C("metrics.total_requests", "equals", "errors.total_requests", 1), Status.FAIL),
    (C("metrics.total_requests", "equals", "errors.total_requests", "10%"), Status.PASS),
    (C("metrics.total_requests", "equals", "errors.total_requests", "5%"), Status.FAIL),
    (C("metrics.total_requests", "equals", 20), Status.PASS),
    (C("metrics.total_requests", "equals", 21), Status.FAIL),
    (C("health.status", "equals", "'healthy'"), Status.PASS),
    (C("health.status", "equals", "'sick'"), Status.FAIL),
    (C("streaming.total_streams", "equals", "add(streaming.successful_streams, streaming.failed_streams)"), Status.PASS),
    (C("streaming.total_streams", "equals", "streaming.successful_streams"), Status.FAIL),
    (C("slo.success_rate", "equals", "sub(`1`, errors.error_rate)", 0.02, "warn"), Status.WARN),
    (C("slo.success_rate", "equals", "sub(`1`, errors.error_rate)", 0.05, "warn"), Status.PASS),
    (C("metrics.total_requests", "gt", 0), Status.PASS),
    (C("metrics.total_requests", "gt", 20), Status.FAIL),
    (C("metrics.total_requests", "ge", 20), Status.PASS),
    (C("metrics.total_requests", "ge", 21), Status.FAIL),
    (C("metrics.total_requests", "lt", 21), Status.PASS),
    (C("metrics.total_requests", "lt", 20), Status.FAIL),
    (C("metrics.total_requests", "lt", 20, 1), Status.PASS),
    (C("metrics.total_requests", "le", 20), Status.PASS),
    (C("metrics.total_requests", "le", 19), Status.FAIL),
    (C("metrics.total_requests", "between", [10, "errors.total_requests"]), Status.PASS),
    (C("metrics.total_requests", "between", [21, 30]), Status.FAIL),
    (C("metrics.requests_per_second", "exists", True), Status.PASS),
    (C("metrics.avg_response_time", "exists", True), Status.FAIL),
    (C("metrics.avg_response_time", "exists", False), Status.PASS),
    (C("streaming.ttft_percentiles", "type", ["object", "null"]), Status.PASS),
    (C("metrics.total_requests", "type", "number"), Status.PASS),
    (C("metrics.name", "type", "number"), Status.FAIL),
    (C("metrics.name", "matches", r"^fakeai-\d"), Status.PASS),
    (C("metrics.name", "matches", r"^vllm"), Status.FAIL),
    (C("delta.metrics.total_requests", "equals", "client.requests.total"), Status.PASS),
    (C("metrics.total_requests", "equals", "client.requests.total"), Status.FAIL),
])
def test_operator_outcomes(check, status):
    assert evaluate(check, DOC).status is status


def test_wrong_type_is_a_failure_with_the_value_not_a_crash():
    doc = {**DOC, "metrics": {"total_requests": "20"}}
    out = evaluate(C("metrics.total_requests", "gt", 0), doc)
    assert out.status is Status.FAIL and "'20'" in out.message and "not a number" in out.message


def test_null_value_fails_with_a_clear_message():
    out = evaluate(C("metrics.requests_per_second", "gt", 0), DOC)
    assert out.status is Status.FAIL and "missing or null" in out.message


def test_a_null_value_shows_what_it_was_held_to():
    """The expected expression's value is in the message, so a reader sees what the server should have said."""
    out = evaluate(C("metrics.requests_per_second", "equals", "client.requests.total"), DOC)
    total = DOC["client"]["requests"]["total"]
    assert out.message == f"metrics.requests_per_second is missing or null; expected equals client.requests.total (= {total})"
    out = evaluate(C("metrics.requests_per_second", "equals", "client.no_such_figure"), DOC)
    assert out.message.endswith("expected equals client.no_such_figure")


def test_endpoint_that_did_not_answer_is_an_error():
    doc = {k: v for k, v in DOC.items() if k != "errors"}
    out = evaluate(C("metrics.total_requests", "equals", "errors.total_requests", 2), doc)
    assert out.status is Status.ERROR and "errors did not answer" in out.message


def test_delta_of_endpoint_missing_before_is_an_error():
    doc = {**DOC, "delta": {}}
    assert evaluate(C("delta.metrics.total_requests", "gt", 0), doc).status is Status.ERROR


def test_missing_expected_operand_fails():
    out = evaluate(C("metrics.total_requests", "equals", "errors.nope"), DOC)
    assert out.status is Status.FAIL and "errors.nope is missing" in out.message


def test_path_exists_distinguishes_null_from_absent():
    assert path_exists("metrics.requests_per_second", DOC)
    assert not path_exists("metrics.nope", DOC)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(min_value=0, max_value=1e3, allow_nan=False),
       st.floats(min_value=-1e3, max_value=1e3, allow_nan=False))
def test_property_equals_holds_exactly_within_absolute_tolerance(expected, tol, offset):
    doc = {"m": {"v": expected + offset}, "e": {"v": expected}}
    out = evaluate(Check(id="c", name="c", that="m.v", op="equals", expected="e.v", tolerance=tol), doc)
    observed = expected + offset
    held = abs(observed - expected) <= tol + 1e-12 * max(1.0, abs(expected))
    assert (out.status is Status.PASS) == held


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.floats(min_value=0, max_value=100, allow_nan=False))
def test_property_percent_tolerance_is_relative_to_expected(expected, pct):
    assert tolerance_for(f"{pct}%", expected) == pytest.approx(abs(expected) * pct / 100)
    assert tolerance_for(pct, expected) == pct


def test_a_snapshot_read_inside_a_function_call_that_did_not_answer_is_an_error():
    """delta.errors is read as a function argument, not on the expression's left spine."""
    doc = {**DOC, "delta": {"metrics": {"total_requests": 15}}}
    out = evaluate(C("delta.metrics.total_requests", "equals",
                     "sub(delta.metrics.total_requests, delta.errors.total_requests)"), doc)
    assert out.status is Status.ERROR and "delta.errors did not answer" in out.message
