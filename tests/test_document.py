"""The evaluation document's deltas, the client's percentiles, and the plan's expansion."""

import statistics
from pathlib import Path

from hypothesis import given, strategies as st

from fakeai_contract.client_stats import ClientStats
from fakeai_contract.document import build, delta
from fakeai_contract.expr import percentile
from fakeai_contract.model import Contract, Load, MixEntry, Target
from fakeai_contract.plan import iter_requests, requests_by_model


def test_delta_subtracts_numeric_leaves_and_drops_the_rest():
    after = {"total": 30, "rate": 0.5, "name": "x", "ok": True, "by_model": {"a": {"n": 5}, "new": {"n": 2}}, "l": [1]}
    before = {"total": 10, "rate": 0.25, "name": "y", "ok": True, "by_model": {"a": {"n": 1}}}
    assert delta(after, before) == {"total": 20, "rate": 0.25, "by_model": {"a": {"n": 4}, "new": {"n": 2}}}


def test_delta_of_type_mismatch_is_left_out():
    assert delta({"total": 3}, {"total": "3"}) == {}


def test_document_sections():
    doc = build(after={"metrics": {"t": 5}, "errors": {"t": 1}}, before={"metrics": {"t": 2}},
                health={"status": "healthy"}, client={"requests": {"total": 3}}, variables={"x": 1})
    assert doc["metrics"] == {"t": 5} and doc["before"] == {"metrics": {"t": 2}}
    assert doc["delta"] == {"metrics": {"t": 3}}          # errors had no before snapshot
    assert doc["client"]["requests"]["total"] == 3 and doc["vars"] == {"x": 1}


@given(st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=2, max_size=60),
       st.sampled_from([0.5, 0.9, 0.99]))
def test_percentile_is_linear_interpolation(values, q):
    xs = sorted(values)
    expected = statistics.quantiles(xs, n=100, method="inclusive")[round(q * 100) - 1]
    assert abs(percentile(xs, q) - expected) < 1e-9


def test_client_stats_counts_and_percentiles():
    s = ClientStats()
    s.add(model="a", stream=False, ok=True, latency_s=0.1, usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    s.add(model="a", stream=True, ok=True, latency_s=0.3, ttft_s=0.05, itl_s=[0.01, 0.02], chunks=5, done=True)
    s.add(model="b", stream=True, ok=False, latency_s=0.2, ttft_s=0.07, chunks=2, done=False)
    d = s.to_dict()
    assert d["requests"] == {"total": 3, "succeeded": 2, "failed": 1, "streaming": 2, "non_streaming": 1}
    assert d["by_model"] == {"a": {"total": 2, "succeeded": 2, "failed": 0}, "b": {"total": 1, "succeeded": 0, "failed": 1}}
    assert d["streams"] == {"total": 2, "completed": 1, "failed": 1, "chunks": 7, "done_markers": 1}
    assert d["latency_s"]["p50"] == 0.2 and d["latency_s"]["max"] == 0.3
    assert d["ttft_s"]["p50"] == 0.06 and d["itl_s"]["p50"] == 0.015
    assert d["tokens"]["total"] == 7


def test_empty_client_stats_are_nulls_not_errors():
    d = ClientStats().to_dict()
    assert d["latency_s"]["p99"] is None and d["ttft_s"]["p50"] is None and d["tokens"]["total"] is None


def _contract(mix, models=("m1", "m2", "m3")):
    return Contract(name="t", source=Path("t.yaml"), target=Target(base_url="http://x"),
                    load=Load(models=models, mix=tuple(mix)))


def test_plan_assigns_models_round_robin_and_fills_placeholders():
    mix = [MixEntry("plain", 4, {"messages": [{"role": "user", "content": "Req {n} to {model}"}]}),
           MixEntry("stream", 2, {"stream": True, "messages": []})]
    reqs = list(iter_requests(_contract(mix)))
    assert [(r.seq, r.model, r.is_streaming) for r in reqs] == [
        (1, "m1", False), (2, "m2", False), (3, "m3", False), (4, "m1", False), (5, "m1", True), (6, "m2", True)]
    assert reqs[1].body()["messages"][0]["content"] == "Req 2 to m2" and reqs[1].body()["model"] == "m2"
    assert reqs[0].mix.body["messages"][0]["content"] == "Req {n} to {model}"   # the plan never mutates the contract
    assert requests_by_model(_contract(mix)) == {"m1": {"streaming": 1, "non_streaming": 2},
                                                 "m2": {"streaming": 1, "non_streaming": 1},
                                                 "m3": {"streaming": 0, "non_streaming": 1}}
