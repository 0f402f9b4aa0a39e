"""Exposition parsing (classic and OpenMetrics) and per-series deltas with counter resets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from fakeai_contract import document, expr, prometheus

CLASSIC = """\
# HELP req_total Requests.
# TYPE req_total counter
req_total{route="/v1/chat/completions",code="200"} 7
req_total{route="/health",code="200"} 100
# TYPE ttft_seconds histogram
ttft_seconds_bucket{le="0.1"} 2
ttft_seconds_bucket{le="1.0"} 5
ttft_seconds_bucket{le="+Inf"} 6
ttft_seconds_sum 3.5
ttft_seconds_count 6
# TYPE up gauge
up 1
"""

OPENMETRICS = """\
# TYPE req counter
# HELP req Requests.
req_total{route="/v1/chat/completions",note="say \\"hi\\"\\n"} 7.0 # {trace_id="abc"} 1.0 1.7e9
req_created{route="/v1/chat/completions",note="say \\"hi\\"\\n"} 1.7e9
# TYPE g gauge
g{k="nan"} NaN
g{k="inf"} +Inf
# EOF
"""


def test_classic_keeps_the_existing_shape_and_adds_families():
    doc = prometheus.parse(CLASSIC)
    assert doc["req_total"] == 107 and doc["ttft_seconds_count"] == 6 and doc["up"] == 1
    assert {"name": "req_total", "labels": {"route": "/health", "code": "200"}, "value": 100,
            "type": "counter", "family": "req"} in doc["_samples"]
    assert doc["_families"]["ttft_seconds"]["type"] == "histogram" and doc["_format"] == "prometheus"


def test_openmetrics_by_eof_and_by_content_type():
    doc = prometheus.parse(OPENMETRICS)
    assert doc["_format"] == "openmetrics" and doc["_families"]["req"] == {"type": "counter", "help": "Requests."}
    assert expr.search("metric(d, 'req_total{note=\"say \\\"hi\\\"\\n\"}')", {"d": doc}) == 7
    assert math.isnan(doc["_samples"][2]["value"]) and doc["_samples"][3]["value"] == math.inf
    assert prometheus.is_openmetrics("x 1\n", "application/openmetrics-text; version=1.0.0")


def test_a_classic_counter_without_total_keeps_the_name_the_server_wrote():
    """TGI (metrics-rs) writes `tgi_request_success 3`; prometheus_client's parser would call it
    `tgi_request_success_total`, a name the server never exposed and a scrape would not store."""
    text = ("# TYPE tgi_request_success counter\ntgi_request_success 3\n"
            "# TYPE tgi_request_failure counter\ntgi_request_failure{err=\"validation\"} 1\n"
            "# TYPE vllm:prompt_tokens counter\nvllm:prompt_tokens_total{model_name=\"m\"} 5\n")
    doc = prometheus.parse(text)
    assert doc["tgi_request_success"] == 3 and "tgi_request_success_total" not in doc
    assert expr.search("metric(d, 'tgi_request_success')", {"d": doc}) == 3
    assert expr.search("metric(d, 'tgi_request_failure{err=\"validation\"}')", {"d": doc}) == 1
    assert expr.search("metric(d, 'vllm:prompt_tokens_total')", {"d": doc}) == 5
    after = prometheus.parse(text.replace("tgi_request_success 3", "tgi_request_success 7"))
    assert expr.search("metric(delta.d, 'tgi_request_success')",
                       document.build(after={"d": after}, before={"d": doc}, health=None, client={}, variables={})) == 4


def test_missing_names_count_families_declared_without_series_and_suffixed_names():
    doc = prometheus.parse("# HELP lazy_total Not observed yet.\n# TYPE lazy_total counter\n" + CLASSIC)
    assert prometheus.missing(doc, ["req_total", "req", "ttft_seconds", "ttft_seconds_bucket", "up", "lazy_total"]) == []
    assert prometheus.missing(doc, ["up", "down", "ttft_milliseconds"]) == ["down", "ttft_milliseconds"]


def test_malformed_openmetrics_is_rejected():
    with pytest.raises(ValueError):
        prometheus.parse("# TYPE a counter\na_total 1\n", "application/openmetrics-text")  # no # EOF
    with pytest.raises(ValueError):
        prometheus.parse("a_total{x=\"1} 1\n")


def _doc(text):
    return prometheus.parse(text)


def test_delta_per_series_with_counter_resets_and_gauges():
    before = _doc('# TYPE c counter\nc_total{m="a"} 10\nc_total{m="b"} 5\n# TYPE g gauge\ng 7\n'
                  '# TYPE h histogram\nh_bucket{le="1"} 4\nh_bucket{le="+Inf"} 4\nh_count 4\nh_sum 2\n')
    after = _doc('# TYPE c counter\nc_total{m="a"} 3\nc_total{m="b"} 8\nc_total{m="new"} 2\n# TYPE g gauge\ng 4\n'
                 '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1.5\n')
    ev = document.build(after={"p": after}, before={"p": before}, health=None, client={}, variables={})
    d = ev["delta"]["p"]
    assert expr.search("metric(delta.p, 'c_total{m=\"a\"}')", ev) == 3      # went down: restarted from 0
    assert expr.search("metric(delta.p, 'c_total{m=\"b\"}')", ev) == 3
    assert expr.search("metric(delta.p, 'c_total{m=\"new\"}')", ev) == 2    # new in the run: from 0
    assert d["c_total"] == 8 and d["g"] == -3                              # a gauge: plain difference
    assert expr.search("histogram_count(delta.p, 'h')", ev) == 2            # histogram reset
    assert expr.search("histogram_quantile(`0.5`, delta.p, 'h')", ev) == pytest.approx(1.0)


def test_delta_restart_seen_by_created_timestamp():
    before = _doc('# TYPE c counter\nc_total 10\nc_created 100\n# EOF\n')
    after = _doc('# TYPE c counter\nc_total 12\nc_created 200\n# EOF\n')
    assert prometheus.delta(after, before)["c_total"] == 12


def test_summary_quantiles_are_gauges():
    before = _doc('# TYPE s summary\ns{quantile="0.5"} 0.9\ns_sum 10\ns_count 4\n')
    after = _doc('# TYPE s summary\ns{quantile="0.5"} 0.4\ns_sum 12\ns_count 5\n')
    d = prometheus.delta(after, before)
    assert d["s"] == pytest.approx(-0.5) and d["s_count"] == 1 and d["s_sum"] == 2


# Hypothesis: generated expositions parse back to the series that were written.
_label_values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
_values = st.one_of(st.integers(-10**9, 10**9).map(float), st.floats(allow_nan=False, width=64))


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _fmt(v: float) -> str:
    return "+Inf" if v == math.inf else "-Inf" if v == -math.inf else repr(v)


@settings(max_examples=60, deadline=None)
@given(name=_names, openmetrics=st.booleans(),
       series=st.dictionaries(_label_values, _values, min_size=1, max_size=5))
def test_generated_exposition_round_trips(name, openmetrics, series):
    lines = [f"# TYPE {name} gauge"]
    lines += [f'{name}{{k="{_escape(k)}"}} {_fmt(v)}' for k, v in series.items()]
    text = "\n".join(lines) + ("\n# EOF\n" if openmetrics else "\n")
    doc = prometheus.parse(text)
    assert doc["_format"] == ("openmetrics" if openmetrics else "prometheus")
    got = {s["labels"]["k"]: s["value"] for s in doc["_samples"]}
    assert got == series
    for k, v in series.items():
        selector = f'{name}{{k="{_escape(k)}"}}'
        assert expr.search("metric(d, s)", {"d": doc, "s": selector}) == v
