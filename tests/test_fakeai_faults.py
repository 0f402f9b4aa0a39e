"""Every check of the FakeAI contracts fails under a server fault that breaks what it guards.

One reference-server run per (contract, fault), asserting every check that fault must fail. A
coverage test holds the union of these tables, the data cases of tests/e2e (fakeai-final's field
checks against tests/misbehaving_server.py among them) and the few clock-reading tests named in
ELSEWHERE to every check of each contract, so a check added without a failing run fails the suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fakeai_contract.contract import load_contract

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
#: The FakeAI contracts guarded here; the server packs are in test_packs_faults.py.
CONTRACTS = ("fakeai-final", "fakeai-strict", "fakeai-event-flow", "fakeai-error-metrics", "fakeai-streaming-metrics")

#: A reference-server fault: its options, then --set overrides of the contract's variables.
FAULTS = {
    # a queue that never drains within the run: every event applied an hour after it was published
    "stuck-queue": (["--event-lag=3600"], ["SETTLE_TIMEOUT=0.2"]),
    # handlers that forget to publish the start of a request and of a stream
    "unpublished-starts": (["--unpublished=request.started,stream.started,stream.first_token"], []),
    # a stream handler that publishes its start but not its first token or its end
    "unpublished-stream-ends": (["--unpublished=stream.first_token,stream.completed"], []),
    # trackers that count phantom failed requests and phantom streams
    "phantoms": (["--miscount-errors=3", "--miscount-streams=2"], []),
    # streams cut before [DONE] that the server counts successful
    "dropped-streams": (["--drop-stream-rate=0.5", "--seed=4"], []),
}

#: Per contract and reference fault, the checks that must fail.
CAUGHT = {
    "fakeai-strict": {
        "stuck-queue": {"metrics-total-requests", "errors-total-requests",
                        "server-request-count-equals-requests-sent", "error-tracker-request-count-equals-requests-sent",
                        "server-stream-count-equals-streams-sent",
                        "server-successful-streams-equal-streams-that-completed-with-done",
                        "server-token-count-equals-the-usage-the-client-was-told",
                        "events-processed-equal-events-published", "event-queue-empty",
                        "per-model-count-gpt-4", "per-model-count-gpt-4-turbo", "per-model-count-gpt-3-5-turbo",
                        "per-model-count-claude-3-opus", "per-model-count-claude-3-sonnet",
                        "server-ttft-p50-agrees-with-the-client-s"},
        "phantoms": {"error-tracker-request-count-equals-requests-sent", "server-error-count-equals-failures-the-client-saw",
                     "server-stream-count-equals-streams-sent", "streaming-count-consistency",
                     "slo-rate-consistency", "success-rate-meets-the-slo-target"},
    },
    "fakeai-event-flow": {
        "stuck-queue": {"everything-published-was-processed", "queue-drained",
                        "events-by-type-add-up-to-the-events-processed"},
        "unpublished-starts": {"one-request-started-event-per-request-sent", "every-started-request-completed-or-failed",
                               "one-stream-started-event-per-stream-that-got-going", "events-published-during-the-run"},
    },
    "fakeai-error-metrics": {
        "phantoms": {"server-error-count-equals-failures-the-client-saw", "server-request-count-equals-requests-sent",
                     "error-rate-is-errors-over-requests", "errors-by-type-add-up-to-the-total",
                     "errors-by-status-add-up-to-the-total", "slo-success-rate-is-one-minus-the-error-rate",
                     "error-budget-follows-from-the-error-rate-and-the-target",
                     "slo-met-exactly-when-the-success-rate-reaches-the-target"},
    },
    "fakeai-streaming-metrics": {
        "unpublished-stream-ends": {"no-stream-left-active", "server-stream-count-equals-streams-sent",
                                    "server-successful-streams-equal-streams-completed-with-done",
                                    "ttft-percentiles-are-ordered", "server-ttft-p50-agrees-with-the-client-s",
                                    "server-itl-p50-agrees-with-the-client-s"},
        "phantoms": {"streams-add-up", "server-stream-count-equals-streams-sent"},
        "dropped-streams": {"server-successful-streams-equal-streams-completed-with-done",
                            "every-stream-ended-with-data-done"},
    },
}

#: Per contract and fault, checks that must still pass under it: what the fault leaves true.
SPARED = {
    # a cut stream is still counted once, as failed or (here, wrongly) successful: the identity holds
    ("fakeai-streaming-metrics", "dropped-streams"): {"streams-add-up"},
}

#: Checks shown failing by a test elsewhere that reads a clock: check → that test (file::function).
ELSEWHERE = {
    "fakeai-strict": {
        "latency-gate-ttft-p99": "tests/test_e2e_strict.py::test_latency_gates_fail_on_a_slow_first_token",
        "latency-gate-end-to-end-p99": "tests/test_e2e_strict.py::test_latency_gates_fail_on_a_slow_first_token",
    },
}

#: A contract the data cases run in place of a shipped one: the same checks, a quicker wait.
STAND_INS = {"../../data/contracts/fakeai-final-quick-settle.yaml": "fakeai-final"}
#: A fault that is there to stay is there after 0.3 s too.
QUICK = ["SETTLE_TIMEOUT=0.3"]


def failing(ledger: dict, contract: str) -> set[str]:
    """The checks that failed as their severity says (a `severity: warn` check fails as warn)."""
    severity = {c.id: c.severity for c in load_contract(contract).checks}
    return {e["id"].removeprefix("check/") for e in ledger["entries"] if e["id"] in severity
            and e["status"] == ("warn" if severity[e["id"]] == "warn" else "fail")}


@pytest.mark.parametrize("contract,fault", [(c, f) for c in CAUGHT for f in CAUGHT[c]])
def test_check_fails_under_the_reference_fault_it_guards_against(cli, contract, fault):
    reference_args, sets = FAULTS[fault]
    merged = dict(s.split("=", 1) for s in [*QUICK, *sets])      # the fault's own values win
    r = cli("run", contract, "--serve-reference", *(f"--reference-arg={a}" for a in reference_args),
            *(a for k, v in merged.items() for a in ("--set", f"{k}={v}")), "--report", "json:-", "--quiet")
    assert r.code == 1, r.err
    unwell = {e["id"]: (e["status"], e["message"]) for e in r.ledger["entries"] if e["status"] != "pass"}
    assert CAUGHT[contract][fault] <= failing(r.ledger, contract), unwell
    spared = SPARED.get((contract, fault), set())
    assert {e["id"].removeprefix("check/") for e in r.ledger["entries"] if e["status"] == "pass"} >= spared


@pytest.mark.parametrize("path,contract", sorted(STAND_INS.items()))
def test_a_stand_in_differs_from_its_shipped_contract_only_in_its_waits(path, contract):
    stand_in, shipped = load_contract(str((ROOT / "tests" / "e2e" / "x" / path).resolve())), load_contract(contract)
    assert stand_in.checks == shipped.checks and stand_in.load == shipped.load
    assert stand_in.endpoints == shipped.endpoints and stand_in.settle.until == shipped.settle.until


def _cases(contract: str) -> set[str]:
    """Checks of CONTRACT that a data case under tests/e2e asserts failing (or warning)."""
    shown = set()
    for path in (ROOT / "tests" / "e2e").glob("*/case.yaml"):
        case = yaml.safe_load(path.read_text())
        if STAND_INS.get(case["contract"], case["contract"]) == contract:
            shown |= {i.removeprefix("check/") for i, (status, *_) in case.get("entries", {}).items()
                      if i.startswith("check/") and status in ("fail", "warn")}
    return shown


def _shown(contract: str) -> set[str]:
    return set().union(*CAUGHT.get(contract, {}).values(), _cases(contract), ELSEWHERE.get(contract, {}))


@pytest.mark.parametrize("contract", CONTRACTS)
def test_every_check_of_the_contract_is_shown_failing_under_some_fault(contract):
    checks = {c.id.removeprefix("check/"): c for c in load_contract(contract).checks}
    parents = {"fakeai-strict": "fakeai-final"}
    shown = _shown(contract)
    if contract in parents:            # inherited checks, defined exactly as the parent's, are the parent's
        parent = {c.id.removeprefix("check/"): c for c in load_contract(parents[contract]).checks}
        assert all(checks[i] == c for i, c in parent.items())
        shown |= _shown(parents[contract]) & set(parent)
    assert set(checks) <= shown, sorted(set(checks) - shown)
    tabled = set().union(*CAUGHT.get(contract, {}).values(), ELSEWHERE.get(contract, {}))
    assert tabled <= set(checks), sorted(tabled - set(checks))          # no stale names in the tables


def test_the_tests_named_elsewhere_exist_and_assert_their_checks():
    for contract, named in ELSEWHERE.items():
        for check, node in named.items():
            file, function = node.split("::")
            source = (ROOT / file).read_text()
            body = source.split(f"def {function}(", 1)[1].split("\ndef ", 1)[0]
            assert f'"check/{check}"' in body, (check, node)
