"""Server packs against the reference server's flavor of each: the faults they guard, timing held to the
client's within bucket resolution, lint of their metric names, and the wrong kind of server."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(120)


def failed(ledger: dict) -> set[str]:
    return {e["id"] for e in ledger["entries"] if e["status"] in ("fail", "error")}


def run(cli, name: str, *reference_args: str, flavor: str | None = None, sets: tuple[str, ...] = ()):
    flavor_arg = [f"--reference-arg=--flavor={flavor or name}"] if flavor != "" else []
    return cli("run", name, "--serve-reference", *flavor_arg, *(f"--reference-arg={a}" for a in reference_args),
               *(a for s in sets for a in ("--set", s)), "--report", "json:-", "--quiet")


# Each pack's clean run on its flavor, with every check accounted for: tests/test_packs_faults.py.


#: The fault, and the checks of the vllm pack that must catch it.
VLLM_FAULTS = {
    "--miscount=3": {"check/no-request-finished-by-stop-or-abort", "check/prompt-tokens-equal-usage",
                     "check/generation-tokens-equal-usage"},
    "--timing-skew=0.5": {"check/server-ttft-p50-is-no-later-than-the-client-s",
                          "check/server-inter-token-p50-agrees-with-the-client-s",
                          "check/server-e2e-mean-is-no-more-than-the-client-s"},
    "--error-rate=0.3": {"check/no-request-failed", "check/every-stream-ended-with-data-done"},
}


@pytest.mark.parametrize("fault", VLLM_FAULTS)
def test_vllm_pack_fails_under_the_fault_it_guards_against(cli, fault):
    r = run(cli, "vllm", fault, "--seed=3")
    assert r.code == 1
    assert VLLM_FAULTS[fault] <= failed(r.ledger), sorted(failed(r.ledger))


def test_vllm_metrics_that_lag_past_the_wait_fail(cli):
    """Events applied 0.5 s late: the histograms miss requests when the checks read them."""
    r = cli("run", "vllm", "--serve-reference", "--reference-arg=--flavor=vllm", "--reference-arg=--event-lag=0.5",
            "--set", "SETTLE_TIMEOUT=0.2", "--report", "json:-", "--quiet")
    assert r.code == 1
    assert {"check/one-ttft-observation-per-request", "check/one-e2e-latency-per-request"} <= failed(r.ledger)


@pytest.mark.parametrize("flavor", ["tgi", ""])
def test_vllm_pack_against_another_kind_of_server_fails_fast_and_clearly(cli, flavor):
    """Against TGI's surface or the plain reference server: metrics missing, no traceback, no hang."""
    r = run(cli, "vllm", flavor=flavor)
    assert r.code == 1
    assert "Traceback" not in r.err
    bad = failed(r.ledger)
    # TGI's metrics lack every vLLM name; the plain server's /metrics is JSON, not Prometheus text
    assert ("metrics/prom" if flavor else "endpoint/prom") in bad
    assert "check/every-request-finished-by-length" in bad
    # another kind of server is not a slow one: settle and the eventually checks stop at once
    settle = next(e for e in r.ledger["entries"] if e["id"] == "settle")
    assert settle["message"].startswith("stopped waiting"), settle["message"]
    why = "exposes none of its" if flavor else "answered HTTP 200 with no Prometheus text"
    assert why in settle["message"], settle["message"]
    assert r.ledger["duration_s"] < 5


@pytest.mark.parametrize("fault,caught", [
    ("--miscount=3", {"check/every-request-counted", "check/generation-tokens-equal-usage"}),
    ("--timing-skew=0.5", {"check/server-ttft-p50-is-no-later-than-the-client-s",
                           "check/server-e2e-mean-is-no-more-than-the-client-s"}),
])
def test_sglang_pack_fails_under_the_fault_it_guards_against(cli, fault, caught):
    r = run(cli, "sglang", fault)
    assert r.code == 1
    assert caught <= failed(r.ledger), sorted(failed(r.ledger))


#: A server with an interactive model's timing: a first token after 0.3 s, 20 ms between tokens,
#: 0.4 s for an unstreamed answer. At the reference's default milliseconds a lie smaller than the
#: packs' TIMING_SLACK cannot be told from the transport, so the under-report guards need this scale.
REALISTIC = ("--ttft=0.3", "--itl=0.02", "--latency=0.4")
#: --timing-scale per direction: the server's durations as served, three times, or 0.3 times as long.
SCALES = {"clean": "1", "over": "3", "under": "0.3"}
#: Per pack and direction, exactly the checks that fail (the README's timing rule: a duration from
#: arrival no later than the client's within a bucket and no earlier than it less the slack; an
#: inter-token gap within a bucket either way; exact _sum/_count means against the client's mean).
TIMING = {
    "vllm": {
        "over": {"server-ttft-p50-is-no-later-than-the-client-s", "server-inter-token-p50-agrees-with-the-client-s",
                 "server-e2e-mean-is-no-more-than-the-client-s"},
        "under": {"server-ttft-p50-is-no-earlier-than-the-client-s-less-the-slack",
                  "server-inter-token-p50-agrees-with-the-client-s",
                  "server-e2e-mean-is-no-less-than-the-client-s-less-the-slack"},
    },
    "tgi": {
        "over": {"server-duration-p50-is-no-more-than-the-client-s", "server-duration-mean-is-no-more-than-the-client-s"},
        "under": {"server-duration-p50-is-no-less-than-the-client-s-less-the-slack"},
    },
    "llamacpp": {
        "over": {"server-time-is-no-more-than-the-client-s"},
        "under": {"server-time-is-no-less-than-the-client-s-less-the-slack"},
    },
}
TIMING["sglang"] = TIMING["vllm"]          # the same checks over SGLang's own names and buckets
#: A proxy times the upstream call only, so it has upper bounds and no under-report guard. Its TTFT
#: at 3 x 0.3 s falls in LATENCY_BUCKETS' (0.5, 1] bucket, whose interpolated p50 (0.75 s) is within
#: that bucket's width of the client's 0.3 s: the histogram cannot resolve it, the exact mean does.
#: (test_packs_faults shows the TTFT check failing under additive skew at millisecond scale.)
TIMING["litellm"] = {"over": {"upstream-latency-mean-is-no-more-than-the-client-s"}}


@pytest.mark.parametrize("pack,direction", [(p, d) for p in sorted(TIMING) for d in SCALES])
def test_timing_checks_hold_the_server_to_the_client_within_bucket_resolution(cli, pack, direction):
    """Clean, every check passes; over- or under-reporting, exactly that direction's checks fail."""
    r = run(cli, pack, *REALISTIC, f"--timing-scale={SCALES[direction]}", sets=("CONCURRENCY=16",))
    expected = {f"check/{name}" for name in TIMING[pack].get(direction, ())}
    assert failed(r.ledger) == expected
    assert r.code == (1 if expected else 0)


@pytest.mark.parametrize("pack,typo,meant", [
    ("vllm", "vllm:time_to_first_token_second", "vllm:time_to_first_token_seconds"),
    ("sglang", "sglang:num_request_total", "sglang:num_requests_total"),
    ("tgi", "tgi_request_sucess_total", "tgi_request_success"),
    ("llamacpp", "llamacpp:tokens_predict_total", "llamacpp:tokens_predicted_total"),
])
def test_lint_rejects_a_metric_the_pack_does_not_declare(cli, tmp_path, pack, typo, meant):
    """Each pack's endpoint declares its metrics, so an overlay's misspelt selector is caught before a run."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"contract: mine\nextends: [{pack}]\nchecks:\n"
                       f"  - {{name: typo, that: \"metric(delta.prom, '{typo}')\", equals: 0}}\n")
    r = cli("lint", str(overlay))
    assert r.code == 2
    assert "overlay.yaml:4:" in r.err and "did you mean" in r.err and meant in r.err, r.err
