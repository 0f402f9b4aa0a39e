"""histogram_quantile held to Prometheus' own results: prometheus/prometheus, promql/promqltest/testdata/histograms.test
(the cases and their expected values), and the special cases promql/quantile.go documents."""

from __future__ import annotations

import math

import pytest

from fakeai_contract import expr, prometheus
from fakeai_contract.prometheus.histogram import bucket_quantile

# The buckets of Prometheus' test histograms at 50m (each series grows by its step every 5m).
TESTHISTOGRAM = {
    "positive": [("0.1", 50), (".2", 70), ("1e0", 110), ("+Inf", 120)],
    "negative": [("-.2", 10), ("-0.1", 20), ("0.3", 20), ("+Inf", 30)],
}
TESTHISTOGRAM2 = [("0", 0), ("2", 1), ("4", 2), ("6", 3), ("+Inf", 3)]
TESTHISTOGRAM3 = {
    "positive": [("0", 0), ("0.1", 50), (".2", 70), ("1e0", 110), ("+Inf", 110)],
    "negative": [("-.25", 0), ("-.2", 10), ("-0.1", 20), ("0.3", 20), ("+Inf", 20)],
}


def _q(q: float, pairs) -> float:
    return bucket_quantile(q, [[float(le), float(c)] for le, c in pairs]).value


@pytest.mark.parametrize("q, positive, negative", [
    (0, 0, -0.2), (1, 1, 0.3), (0.2, 0.048, -0.2), (0.5, 0.15, -0.15), (0.8, 0.72, 0.3),
])
def test_testhistogram(q, positive, negative):
    assert _q(q, TESTHISTOGRAM["positive"]) == pytest.approx(positive)
    assert _q(q, TESTHISTOGRAM["negative"]) == pytest.approx(negative)


@pytest.mark.parametrize("q, positive, negative", [
    (0, 0, -0.25), (0.25, 0.055, -0.225), (0.5, 0.125, -0.2), (0.75, 0.45, -0.15), (1, 1, -0.1),
])
def test_testhistogram3_empty_lowest_buckets(q, positive, negative):
    assert _q(q, TESTHISTOGRAM3["positive"]) == pytest.approx(positive)
    assert _q(q, TESTHISTOGRAM3["negative"]) == pytest.approx(negative)


@pytest.mark.parametrize("q, want", [(1 / 6, 1), (0.5, 3), (5 / 6, 5)])
def test_testhistogram2_middle_of_buckets(q, want):
    assert _q(q, TESTHISTOGRAM2) == pytest.approx(want)


@pytest.mark.parametrize("q, want", [(-0.1, -math.inf), (1.01, math.inf)])
def test_out_of_range_quantiles(q, want):
    assert _q(q, TESTHISTOGRAM["positive"]) == want


def test_nan_quantile_and_degenerate_histograms():
    assert math.isnan(_q(math.nan, TESTHISTOGRAM["positive"]))
    assert math.isnan(_q(0.5, [("0.1", 0), ("1", 0), ("+Inf", 0)]))        # no observations
    assert math.isnan(_q(0.5, [("+Inf", 7)]))                               # a single bucket
    assert math.isnan(_q(0.5, [("0.1", 1), ("1", 2)]))                      # no +Inf bucket
    assert math.isnan(_q(0, [("0.1", 0), ("1", 2), ("+Inf", 2)]))           # Go's 0/0


def test_all_mass_in_inf_bucket_is_the_highest_finite_bound():
    found = bucket_quantile(0.5, [[0.1, 0], [0.5, 0], [math.inf, 9]])
    assert found.value == 0.5 and found.bucket == (0.5, math.inf)


def test_monotonicity_is_forced_and_equal_bounds_coalesce():
    # A decrease is removed (the envelope), '0.2', '2e-1' and '2.0e-1' are one bucket.
    assert _q(0.5, [("0.1", 1), ("0.5", 0), ("1", 4), ("+Inf", 4)]) == pytest.approx(0.5 + 0.5 / 3)
    assert _q(0.5, [("0.1", 1), ("0.2", 1), ("2e-1", 1), ("2.0e-1", 1), ("+Inf", 4)]) == pytest.approx(0.15)


# request_duration_seconds at 50m: sum by (le) over every job and instance, and by job.
REQUEST_DURATION = """\
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{job="job1",instance="ins1",le="0.1"} 10
request_duration_seconds_bucket{job="job1",instance="ins1",le="0.2"} 30
request_duration_seconds_bucket{job="job1",instance="ins1",le="+Inf"} 40
request_duration_seconds_count{job="job1",instance="ins1"} 40
request_duration_seconds_sum{job="job1",instance="ins1"} 6
request_duration_seconds_bucket{job="job1",instance="ins2",le="0.1"} 20
request_duration_seconds_bucket{job="job1",instance="ins2",le="0.2"} 50
request_duration_seconds_bucket{job="job1",instance="ins2",le="+Inf"} 60
request_duration_seconds_count{job="job1",instance="ins2"} 60
request_duration_seconds_sum{job="job1",instance="ins2"} 9
request_duration_seconds_bucket{job="job2",instance="ins1",le="0.1"} 30
request_duration_seconds_bucket{job="job2",instance="ins1",le="0.2"} 40
request_duration_seconds_bucket{job="job2",instance="ins1",le="+Inf"} 60
request_duration_seconds_bucket{job="job2",instance="ins2",le="0.1"} 40
request_duration_seconds_bucket{job="job2",instance="ins2",le="0.2"} 70
request_duration_seconds_bucket{job="job2",instance="ins2",le="+Inf"} 90
"""


@pytest.mark.parametrize("expression, want", [
    ("histogram_quantile(`0.3`, d, 'request_duration_seconds')", 0.075),
    ("histogram_quantile(`0.5`, d, 'request_duration_seconds')", 0.1277777777777778),
    ("histogram_quantile(`0.3`, d, 'request_duration_seconds{job=\"job1\"}')", 0.1),
    ("histogram_quantile(`0.3`, d, 'request_duration_seconds_bucket{job=\"job2\"}')", 0.0642857142857143),
    ("histogram_quantile(`0.5`, d, 'request_duration_seconds{job=\"job1\"}')", 0.14),
    ("histogram_quantile(`0.5`, d, 'request_duration_seconds{job=\"job2\"}')", 0.1125),
    ("histogram_quantile(`0.5`, d, 'request_duration_seconds{job=\"job2\", instance=\"ins2\"}')", 0.1166666666666667),
    ("histogram_count(d, 'request_duration_seconds{job=\"job1\"}')", 100),
    ("histogram_sum(d, 'request_duration_seconds')", 15),
    ("histogram_mean(d, 'request_duration_seconds{instance=\"ins2\"}')", 0.15),
])
def test_functions_sum_matching_series_by_le(expression, want):
    doc = {"d": prometheus.parse(REQUEST_DURATION)}
    assert expr.search(expression, doc) == pytest.approx(want)


@pytest.mark.parametrize("expression", [
    "histogram_quantile(`0.5`, d, 'request_duration_seconds{job=\"job3\"}')",
    "histogram_count(d, 'nope')", "histogram_sum(d, 'nope')", "histogram_mean(d, 'nope')",
    "metric(d, 'request_duration_seconds_count{job=\"job2\"}')",
])
def test_nothing_matched_is_null_and_traced(expression):
    doc = {"d": prometheus.parse(REQUEST_DURATION)}
    with prometheus.trace() as calls:
        assert expr.search(expression, doc) is None
    assert calls[-1].series == 0 and calls[-1].describe().startswith("0 series matched `")


def test_quantile_reports_its_bucket():
    doc = {"d": prometheus.parse(REQUEST_DURATION)}
    with prometheus.trace() as calls:
        expr.search("histogram_quantile(`0.5`, d, 'request_duration_seconds')", doc)
    assert calls[0].bucket == (0.1, 0.2) and calls[0].series == 12


# --- further cases of histograms.test (prometheus/prometheus, promql/promqltest/testdata/histograms.test),
# each series' value at the evaluation time written out as exposition text (a rate() divides every
# bucket by the same time, so it leaves the quantile unchanged) --------------------------------------

def _text(name: str, rows) -> dict:
    lines = [f"# TYPE {name} histogram"]
    for labels, value in rows:
        lines.append(f"{name}{{{labels}}} {value}")
    return {"d": prometheus.parse("\n".join(lines) + "\n")}


@pytest.mark.parametrize("q, want", [(0.01, 0.0045), (0.5, 8.5), (0.99, 979.75)])
def test_nonmonotonic_buckets_take_the_envelope(q, want):
    # nonmonotonic_bucket at 50m: 0.1 → 20, 1 → 10, 10 → 50, 100 → 40, 1000 → 90, +Inf → 80
    pairs = [("0.1", 20), ("1", 10), ("10", 50), ("100", 40), ("1000", 90), ("+Inf", 80)]
    assert _q(q, pairs) == pytest.approx(want)


MIXED = [('job="job1",instance="ins1",le="0.1"', 10), ('job="job1",instance="ins1",le="0.2"', 10),
         ('job="job1",instance="ins1",le="2e-1"', 10), ('job="job1",instance="ins1",le="2.0e-1"', 10),
         ('job="job1",instance="ins1",le="+Inf"', 40),
         ('job="job1",instance="ins2",le="+inf"', 0), ('job="job1",instance="ins2",le="+Inf"', 0)]


@pytest.mark.parametrize("q, ins1", [(0.5, 0.15), (0.75, 0.2), (1, 0.2)])
def test_mixed_le_representations_per_instance(q, ins1):
    doc = _text("mixed_bucket", MIXED)
    assert expr.search(f"histogram_quantile(`{q}`, d, 'mixed{{instance=\"ins1\"}}')", doc) == pytest.approx(ins1)
    # ins2: only +Inf buckets ('+inf' and '+Inf' are one), no observations: NaN
    assert math.isnan(expr.search(f"histogram_quantile(`{q}`, d, 'mixed{{instance=\"ins2\"}}')", doc))


@pytest.mark.parametrize("name, rows, q", [
    ("empty_bucket", [('le="0.1"', 0), ('le="0.2"', 0), ('le="+Inf"', 0)], 0.2),
    ("const_histogram_bucket", [('le="0.0"', 0), ('le="1.0"', 0), ('le="2.0"', 0), ('le="+Inf"', 0)], 1),
])
def test_zero_buckets_mean_no_observations_so_every_quantile_is_nan(name, rows, q):
    doc = _text(name, rows)
    assert math.isnan(expr.search(f"histogram_quantile(`{q}`, d, '{name}')", doc))


TESTHISTOGRAM3_TEXT = """\
# TYPE testhistogram3 histogram
testhistogram3_bucket{le="0",start="positive"} 0
testhistogram3_bucket{le="0.1",start="positive"} 50
testhistogram3_bucket{le=".2",start="positive"} 70
testhistogram3_bucket{le="1e0",start="positive"} 110
testhistogram3_bucket{le="+Inf",start="positive"} 110
testhistogram3_sum{start="positive"} 330
testhistogram3_count{start="positive"} 110
testhistogram3_bucket{le="-.25",start="negative"} 0
testhistogram3_bucket{le="-.2",start="negative"} 10
testhistogram3_bucket{le="-0.1",start="negative"} 20
testhistogram3_bucket{le="0.3",start="negative"} 20
testhistogram3_bucket{le="+Inf",start="negative"} 20
testhistogram3_sum{start="negative"} 80
testhistogram3_count{start="negative"} 20
"""


@pytest.mark.parametrize("start, count, total, mean", [("positive", 110, 330, 3), ("negative", 20, 80, 4)])
def test_histogram_count_sum_and_mean(start, count, total, mean):
    # histogram_count, histogram_sum and histogram_avg of testhistogram3 at 50m
    doc = {"d": prometheus.parse(TESTHISTOGRAM3_TEXT)}
    sel = f"testhistogram3{{start=\"{start}\"}}"
    assert expr.search(f"histogram_count(d, '{sel}')", doc) == count
    assert expr.search(f"histogram_sum(d, '{sel}')", doc) == total
    assert expr.search(f"histogram_mean(d, '{sel}')", doc) == mean


@pytest.mark.parametrize("job, instance, q3, q5", [
    ("job1", "ins1", 0.11, 0.15), ("job1", "ins2", 0.09, 0.13333333333333333),
    ("job2", "ins1", 0.06, 0.1), ("job2", "ins2", 0.0675, 0.11666666666666667),
])
def test_quantiles_by_job_and_instance(job, instance, q3, q5):
    doc = {"d": prometheus.parse(REQUEST_DURATION)}
    sel = f"request_duration_seconds{{job=\"{job}\", instance=\"{instance}\"}}"
    assert expr.search(f"histogram_quantile(`0.3`, d, '{sel}')", doc) == pytest.approx(q3)
    assert expr.search(f"histogram_quantile(`0.5`, d, '{sel}')", doc) == pytest.approx(q5)


def test_single_bucket_and_missing_inf_follow_bucketquantile_s_documented_cases():
    # promql/quantile.go, bucketQuantile: "If 'buckets' has fewer than 2 elements, NaN is returned",
    # "If the highest bucket is not +Inf, NaN is returned"; "if the quantile falls into the highest
    # bucket, the upper bound of the 2nd highest bucket is returned".
    assert math.isnan(_q(0, [("+Inf", 5)])) and math.isnan(_q(1, [("+Inf", 5)]))
    assert math.isnan(_q(0.5, [("1", 5), ("2", 5)]))
    assert _q(0.5, [("1", 0), ("2", 0), ("+Inf", 5)]) == 2 and _q(1, [("1", 0), ("2", 0), ("+Inf", 5)]) == 2
