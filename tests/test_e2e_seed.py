"""End to end: the real CLI runs the shipped seed contract against the reference server (issue 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import jsonschema
import pytest

from fakeai_contract.lifecycle import free_port
from fakeai_contract.resources import schemas_dir

pytestmark = pytest.mark.timeout(120)


def _ledger_schema():
    return json.loads((schemas_dir() / "ledger.schema.json").read_text())


def test_seed_contract_passes_with_one_entry_per_seed_check(cli):
    r = cli("run", "--serve-reference", "--report", "json:-", "--no-color")
    assert r.code == 0, r.err
    ledger = r.ledger
    jsonschema.validate(ledger, _ledger_schema())
    entries = ledger["entries"]
    assert len(entries) >= 46
    assert all(e["status"] in ("pass", "skip") for e in entries), [e for e in entries if e["status"] not in ("pass", "skip")]
    by_phase = Counter(e["phase"] for e in entries)
    assert by_phase["health"] == 1
    assert sum(1 for e in entries if "request" in e["tags"]) == 20
    assert by_phase["endpoint"] == 5
    assert sum(1 for e in entries if "field" in e["tags"]) == 15
    assert sum(1 for e in entries if "consistency" in e["tags"]) == 4
    assert [e["status"] for e in entries if e["phase"] == "logs"] == ["pass"]
    assert ledger["summary"]["verdict"] == "PASS" and ledger["summary"]["exit_code"] == 0
    assert ledger["client"]["requests"] == {"total": 20, "succeeded": 20, "failed": 0, "streaming": 10, "non_streaming": 10}
    # the terminal report goes to stderr when the JSON report takes stdout; the seed's layout
    assert "[ 1/20] NORMAL | gpt-4" in r.err and "[20/20] STREAM | claude-3-sonnet" in r.err
    assert "ALL TESTS PASSED" in r.err and "\x1b[" not in r.err


@pytest.mark.timing
def test_unreachable_health_fails_within_the_timeout_plus_a_second(cli):
    port = free_port()
    t0 = time.monotonic()
    r = cli("run", "--base-url", f"http://127.0.0.1:{port}", "--set", "SERVER_TIMEOUT=2", "--report", "json:-")
    elapsed = time.monotonic() - t0
    assert r.code == 1
    assert elapsed < 3.0, elapsed
    health = r.ledger["entries"][0]
    assert health["id"] == "health" and health["status"] == "fail"
    assert "cannot connect" in health["message"]
    skipped = [e for e in r.ledger["entries"] if e["status"] == "skip"]
    assert skipped and all("never became healthy" in e["message"] for e in skipped if e["phase"] != "logs")


@pytest.mark.timing
def test_seed_environment_variables_still_work(cli, monkeypatch):
    port = free_port()
    monkeypatch.setenv("FAKEAI_PORT", str(port))
    monkeypatch.setenv("SERVER_TIMEOUT", "1")
    t0 = time.monotonic()
    r = cli("run", "--report", "json:-")
    assert r.code == 1 and time.monotonic() - t0 < 2.5
    assert r.ledger["target"] == f"http://127.0.0.1:{port}"


def test_cli_as_a_real_subprocess(tmp_path):
    report = tmp_path / "ledger.json"
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "fakeai_contract", "run", "--serve-reference", "--report", f"json:{report}",
         "--report", f"junit:{junit}"], capture_output=True, text=True, timeout=90,
        env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FINAL TEST REPORT" in proc.stdout and "\x1b[" not in proc.stdout
    assert json.loads(report.read_text())["summary"]["exit_code"] == 0
    assert junit.read_text().startswith("<?xml")
    assert (tmp_path / "server.log").exists()       # the server's output, captured beside the reports


def test_invalid_command_line_exits_2_without_traceback(cli):
    r = cli("run", "--report", "pdf:out.pdf")
    assert r.code == 2 and "Traceback" not in r.err and "json" in r.err
    r = cli("run", "no-such-contract.yaml")
    assert r.code == 2 and "Traceback" not in r.err
    r = cli("run", "--set", "novalue")
    assert r.code == 2 and "NAME=VALUE" in r.err
