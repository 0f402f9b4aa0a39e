"""End to end: settle and `eventually` stop at once on an endpoint answering a final status, and say why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

CONTRACT = str(Path(__file__).parent / "data" / "contracts" / "healing" / "nope_endpoint.yaml")
WHY = "stopped waiting: /metrics/nope answered HTTP 404, which waiting does not change"


def by_id(ledger: dict) -> dict[str, dict]:
    return {e["id"]: e for e in ledger["entries"]}


def test_a_404_endpoint_ends_settle_and_eventually_early_with_the_reason(cli):
    t0 = time.monotonic()
    r = cli("run", CONTRACT, "--serve-reference", "--report", "json:-", "--quiet")
    elapsed = time.monotonic() - t0
    entries = by_id(r.ledger)
    settle, check = entries["settle"], entries["check/nope-has-events"]
    assert entries["endpoint/nope"]["observed"]["http_status"] == 404
    assert WHY in settle["message"], settle["message"]
    assert settle["observed"]["polls"] == 1
    assert settle["duration_s"] < 1.0
    assert check["status"] in ("fail", "error") and WHY in check["message"], check["message"]
    assert check["duration_s"] < 1.0
    assert r.code == 1
    # Both waits are 5 s; without the early stop the run lasts at least 10 s after the server is up.
    assert elapsed < 8.0, elapsed
