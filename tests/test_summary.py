"""One rule for the summary: a run's ledger and a saved ledger re-read by the reporters agree."""

from __future__ import annotations

import json

import pytest

from fakeai_contract.ledger import Entry, Ledger, Status, summarize
from fakeai_contract.report import view


def _ledger(statuses, *, healthy=None, interrupted=False) -> Ledger:
    ledger = Ledger(contract="c", target="http://127.0.0.1:1", healthy=healthy, interrupted=interrupted)
    for i, status in enumerate(statuses):
        ledger.add(Entry(f"e/{i}", "check", f"e{i}", Status(status)))
    return ledger


CASES = [
    (["pass"] * 10, "PASS", 0),
    (["pass"] * 9 + ["fail"], "PARTIAL", 1),
    (["pass"] * 8 + ["error", "fail"], "FAIL", 1),
    (["pass", "warn", "skip"], "PASS", 0),
    (["skip", "skip"], "FAIL", 1),                  # nothing was counted
    ([], "FAIL", 1),
]


@pytest.mark.parametrize("statuses,verdict,code", CASES)
def test_a_run_and_its_saved_ledger_have_the_same_summary(statuses, verdict, code):
    ledger = _ledger(statuses)
    live = ledger.summary()
    assert (live["verdict"], live["exit_code"]) == (verdict, code)
    saved = json.loads(json.dumps(ledger.to_dict()))
    del saved["summary"]                              # the reporters recompute what is missing
    again = view.summary(saved)
    assert {**again, "pass_rate": round(again["pass_rate"], 4)} == live


def test_an_unhealthy_run_fails_and_an_interrupted_one_is_never_a_pass():
    assert _ledger(["skip"], healthy=False).summary()["verdict"] == "FAIL"
    stopped = _ledger(["pass"] * 3, interrupted=True)
    assert (stopped.summary()["verdict"], stopped.summary()["exit_code"]) == ("INTERRUPTED", 130)
    saved = stopped.to_dict()
    saved["summary"]["verdict"] = "PASS"              # a saved ledger that claims otherwise
    assert view.summary(saved)["verdict"] == "INTERRUPTED"


def test_the_ledger_summary_keeps_its_keys_in_order():
    assert list(_ledger(["pass"]).summary()) == ["total", "passed", "failed", "errors", "warned", "skipped",
                                                 "pass_rate", "verdict", "exit_code"]
    assert summarize(["pass", "bogus"])["errors"] == 1   # an unknown status in a saved ledger is an error
