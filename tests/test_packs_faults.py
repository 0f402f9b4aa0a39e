"""Every server pack: every check fails under the reference fault it guards against."""

from __future__ import annotations

import pytest

from tests.test_packs import TIMING, failed

pytestmark = pytest.mark.timeout(120)

#: A fault: reference server options, then --set overrides of the pack's variables.
FAULTS = {
    "miscount": (["--miscount=3"], []),
    "timing-skew": (["--timing-skew=0.5"], []),
    "errors": (["--error-rate=0.3", "--seed=3"], []),
    # events applied 1 s late, read after 0.2 s: counters and observations are behind
    "event-lag": (["--event-lag=1"], ["SETTLE_TIMEOUT=0.2", "METRICS_TIMEOUT=0.2"]),
    # requests the client gave up on (after 0.5 s) that the server still holds when the checks
    # read its gauges: the four non-streamed ones running (2.5 s each), the last four waiting out
    # a 2.5 s stall
    "left-behind": (["--latency=2.5", "--stall-after=13", "--stall=2.5"],
                    ["REQUEST_TIMEOUT=0.5", "SETTLE_TIMEOUT=0.3", "METRICS_TIMEOUT=0.2"]),
    # traffic for a model the server does not list
    "unlisted-model": ([], ["MODEL=not-served"]),
}

#: Per pack and fault, the checks that must fail (each check of a pack appears at least once).
CAUGHT = {
    "vllm": {
        # the flavor's phantoms finish by "stop", as a server counting requests it never served would
        "miscount": {"prompt-tokens-equal-usage", "generation-tokens-equal-usage",
                     "no-request-finished-by-stop-or-abort"},
        "timing-skew": {"server-ttft-p50-is-no-later-than-the-client-s", "server-inter-token-p50-agrees-with-the-client-s",
                        "server-e2e-mean-is-no-more-than-the-client-s"},
        "errors": {"no-request-failed", "every-stream-ended-with-data-done"},
        "event-lag": {"every-request-finished-by-length", "one-ttft-observation-per-request",
                      "one-e2e-latency-per-request"},
        "left-behind": {"running-requests-back-to-0", "waiting-requests-back-to-0"},
        "unlisted-model": {"model-is-served"},
    },
    "sglang": {
        "miscount": {"every-request-counted", "prompt-tokens-equal-usage", "generation-tokens-equal-usage"},
        "timing-skew": {"server-ttft-p50-is-no-later-than-the-client-s", "server-inter-token-p50-agrees-with-the-client-s",
                        "server-e2e-mean-is-no-more-than-the-client-s"},
        "errors": {"no-request-failed", "every-stream-ended-with-data-done"},
        "event-lag": {"one-ttft-observation-per-request", "one-e2e-latency-per-request"},
        "left-behind": {"running-requests-back-to-0", "waiting-requests-back-to-0"},
        "unlisted-model": {"model-is-served"},
    },
    "tgi": {
        "miscount": {"every-request-counted-as-a-success", "prompt-tokens-equal-usage",
                     "generated-tokens-equal-usage"},
        "timing-skew": {"server-duration-p50-is-no-more-than-the-client-s",
                        "server-duration-mean-is-no-more-than-the-client-s",
                        "server-time-per-token-is-no-more-than-the-client-s-latency"},
        "errors": {"no-request-failed", "every-stream-ended-with-data-done", "no-failure-counted"},
        "event-lag": {"one-duration-observation-per-request", "every-request-counted-as-a-success"},
        "left-behind": {"queue-back-to-0", "batch-back-to-0"},
        "unlisted-model": {"model-is-served"},
    },
    "llamacpp": {
        "miscount": {"prompt-tokens-equal-usage", "generated-tokens-equal-usage"},
        "timing-skew": {"server-time-is-no-more-than-the-client-s"},
        "errors": {"no-request-failed", "every-stream-ended-with-data-done"},
        "event-lag": {"server-timed-the-requests"},
        "left-behind": {"processing-requests-back-to-0", "deferred-requests-back-to-0"},
        "unlisted-model": {"model-is-served"},
    },
    "litellm": {
        "miscount": {"every-request-counted-as-a-200-on-the-chat-route", "input-tokens-equal-usage",
                     "output-tokens-equal-usage"},
        "timing-skew": {"server-ttft-p50-is-no-more-than-the-client-s",
                        "upstream-latency-mean-is-no-more-than-the-client-s"},
        "errors": {"no-request-failed", "every-stream-ended-with-data-done", "no-failure-counted-on-the-chat-route"},
        "event-lag": {"one-latency-observation-per-request", "one-ttft-observation-per-stream"},
        "left-behind": {"nothing-in-flight-but-the-scrape"},
        "unlisted-model": {"model-is-served", "no-request-failed"},
    },
}


#: A fault that is there to stay is there after 0.3 s too: no need to wait the packs' defaults.
QUICK = ["METRICS_TIMEOUT=0.3", "SETTLE_TIMEOUT=0.3"]


def run(cli, pack: str, reference_args, sets, flavor: str | None = None):
    flavor_arg = [] if flavor == "" else [f"--reference-arg=--flavor={flavor or pack}"]
    set_args = [a for s in sets for a in ("--set", s)]
    return cli("run", pack, "--serve-reference", *flavor_arg, *(f"--reference-arg={a}" for a in reference_args),
               *set_args, "--report", "json:-", "--quiet")


@pytest.mark.timing
@pytest.mark.parametrize("pack", sorted(CAUGHT))
def test_pack_passes_clean_and_every_check_is_caught_by_some_fault(cli, pack):
    r = run(cli, pack, [], [])
    assert r.code == 0, sorted(failed(r.ledger))
    checks = {e["id"].removeprefix("check/") for e in r.ledger["entries"]
              if e["id"].startswith("check/") and not e["id"].startswith("check/responses/")}
    # the under-report guards fail under --timing-scale (tests/test_packs.py, TIMING)
    assert checks == set().union(*CAUGHT[pack].values(), *TIMING.get(pack, {}).values())


@pytest.mark.parametrize("pack,fault", [(p, f) for p in sorted(CAUGHT) for f in FAULTS])
def test_pack_check_fails_under_the_fault_it_guards_against(cli, pack, fault):
    reference_args, sets = FAULTS[fault]
    merged = dict(s.split("=", 1) for s in [*QUICK, *sets])      # the fault's own values win
    r = run(cli, pack, reference_args, [f"{k}={v}" for k, v in merged.items()])
    assert r.code == 1, r.err
    expected = {f"check/{name}" for name in CAUGHT[pack][fault]}
    assert expected <= failed(r.ledger), sorted(failed(r.ledger))


#: Against another kind of server, the entry that says so first.
WRONG_KIND = {
    ("tgi", "vllm"): "check/every-request-counted-as-a-success",   # /health is an empty 200 there too
    ("tgi", ""): "endpoint/prom",                                   # the seed's /metrics is JSON
    ("llamacpp", "vllm"): "health",                                 # an empty 200, not {"status": "ok"}
    ("llamacpp", ""): "health",                                     # {"status": "healthy", ...}
    ("litellm", "vllm"): "health",                                  # no /health/readiness
    ("litellm", ""): "health",
}


@pytest.mark.parametrize("pack,flavor", [pytest.param(*key, marks=pytest.mark.slow) if key == ("tgi", "vllm") else key
                                         for key in sorted(WRONG_KIND)])
def test_pack_against_another_kind_of_server_fails_fast_and_clearly(cli, pack, flavor):
    """One case (slow) keeps the pack's own waits: its settle and metric timeouts bound it (about 11 s)."""
    r = run(cli, pack, [], [] if (pack, flavor) == ("tgi", "vllm") else QUICK, flavor=flavor)
    assert r.code == 1
    assert "Traceback" not in r.err
    entries = {e["id"]: e for e in r.ledger["entries"]}
    assert entries[WRONG_KIND[pack, flavor]]["status"] == "fail", entries[WRONG_KIND[pack, flavor]]
    assert r.ledger["duration_s"] < 30
