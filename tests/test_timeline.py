"""The ledger's timeline section: per-request rows up to a cap, aggregates over every request."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from fakeai_contract.client_stats import ClientStats
from fakeai_contract.resources import schemas_dir
from fakeai_contract.timeline import histogram, outcome

SCHEMA = json.loads((schemas_dir() / "ledger.schema.json").read_text())


def test_rows_stop_at_the_cap_and_the_per_model_aggregates_keep_counting():
    stats = ClientStats()
    stats.timeline.cap = 3
    for i in range(10):
        stats.add(model="a" if i % 2 else "b", stream=i < 5, ok=i != 7, latency_s=0.01 * (i + 1),
                  ttft_s=0.001 * (i + 1), itl_s=[0.002, 0.003], seq=i + 1, start_s=0.005 * i,
                  http_status=500 if i == 7 else 200)
    t = stats.timeline_dict()
    assert (t["cap"], t["total"], t["kept"]) == (3, 10, 3)
    assert [r["seq"] for r in t["requests"]] == [1, 2, 3]
    assert t["by_model"]["a"] == {"total": 5, "succeeded": 4, "failed": 1, "streaming": 2,
                                  "latency_s": {"mean": 0.06, "p50": 0.06, "p90": 0.092, "p99": 0.0992,
                                                "max": 0.1},
                                  "ttft_s": {"p50": 0.003, "p90": 0.0038, "p99": 0.00398}}
    assert t["by_model"]["b"]["total"] == 5 and t["by_model"]["b"]["failed"] == 0
    # every request is in the histograms, not only the kept rows
    assert sum(t["histograms"]["latency_s"]["counts"]) == 10
    assert sum(t["histograms"]["ttft_s"]["counts"]) == 5
    assert sum(t["histograms"]["itl_s"]["counts"]) == 10
    assert t["histograms"]["latency_s"]["lo"] == 0.01 and t["histograms"]["latency_s"]["hi"] == 0.1


def test_histogram_bins_are_equal_width_and_the_largest_value_lands_in_the_last():
    h = histogram([0.0, 0.15, 0.25, 0.35, 1.0], bins=10)
    assert h["counts"] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    assert histogram([0.5, 0.5]) == {"lo": 0.5, "hi": 0.5, "counts": [2]}
    assert histogram([]) == {"lo": None, "hi": None, "counts": []}
    assert histogram([0.0, 5e-324, 5e-324], bins=2)["counts"] == [1, 2]    # the width underflows to 0


_floats = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 1.0, 1e-9]),
                    st.floats(min_value=0, max_value=1e3, allow_nan=False, allow_infinity=False,
                              allow_subnormal=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(_floats, min_size=1, max_size=200), st.integers(min_value=1, max_value=50))
def test_histogram_counts_each_value_in_the_bin_its_definition_gives(values, bins):
    h = histogram(values, bins=bins)
    lo, hi = min(values), max(values)
    if hi <= lo:
        assert h["counts"] == [len(values)]
        return
    width = (hi - lo) / bins
    expected = [0] * bins
    for v in values:          # the definition, one value at a time
        expected[min(int((v - lo) / width), bins - 1)] += 1
    assert h["counts"] == expected


@pytest.mark.parametrize("ok, status, expected", [(True, 200, "ok"), (False, 500, "http"),
                                                  (False, 200, "error"), (False, None, "error")])
def test_outcome(ok, status, expected):
    assert outcome(ok, status) == expected


@pytest.mark.timeout(60)
def test_a_real_run_records_every_request_with_its_outcome(cli):
    r = cli("run", "--serve-reference", "--reference-arg=--error-rate=0.3", "--reference-arg=--seed=7",
            "--report", "json:-", "--quiet")
    ledger = r.ledger
    jsonschema.validate(ledger, SCHEMA)
    t = ledger["timeline"]
    rows = t["requests"]
    assert t["total"] == t["kept"] == len(rows) == 20
    assert sorted(r["seq"] for r in rows) == list(range(1, 21))
    starts = [r["start_s"] for r in rows]
    assert starts == sorted(starts) and all(s >= 0 for s in starts)
    # the rows agree with the per-request ledger entries
    entries = {e["observed"]["index"]: e for e in ledger["entries"] if "request" in e["tags"]}
    for row in rows:
        e = entries[row["seq"]]
        assert row["model"] == e["observed"]["model"] and row["stream"] == e["observed"]["stream"]
        assert row["outcome"] == ("ok" if e["status"] == "pass" else "http")
        assert row["duration_s"] == e["observed"]["latency_s"]
        assert (row["ttft_s"] is not None) == (row["stream"] and row["outcome"] == "ok")
    failed = Counter(r["outcome"] for r in rows)["http"]
    assert failed == ledger["client"]["requests"]["failed"] > 0
    for model, agg in t["by_model"].items():
        assert {k: agg[k] for k in ("total", "succeeded", "failed")} == ledger["client"]["by_model"][model]
