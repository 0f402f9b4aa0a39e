"""An interrupted run is never a PASS: not in the terminal, the ledger or any report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import poll

ROOT = Path(__file__).resolve().parent.parent
MANY = ROOT / "tests" / "data" / "contracts" / "hardening" / "many.yaml"


@pytest.mark.timeout(90)
def test_a_run_interrupted_after_passing_entries_says_interrupted_everywhere(tmp_path):
    reports = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "tap", "markdown", "junit")}
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--serve-reference",
           "--reference-arg=--latency=0.2", "--reference-arg=--access-log", "--server-log", str(log),
           "--no-color", *[f"--report={fmt}:{path}" for fmt, path in reports.items()]]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NO_COLOR": "1"})
    try:
        poll(lambda: "POST /v1/chat/completions" in (log.read_text(errors="replace") if log.exists() else ""),
             45, interval=0.05, what="a request to be sent",
             stop=lambda: proc.poll() is not None and f"the run ended: {proc.communicate()}")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-2000:]
    ledger = json.loads(reports["json"].read_text())
    assert ledger["interrupted"] is True and ledger["summary"]["verdict"] == "INTERRUPTED"
    assert ledger["summary"]["failed"] == ledger["summary"]["errors"] == 0    # what ran, held
    assert "PASS" not in out.splitlines()[-1] and "INTERRUPTED" in out.splitlines()[-1]
    assert "ALL TESTS PASSED" not in out
    assert "verdict INTERRUPTED" in reports["tap"].read_text()
    assert "INTERRUPTED" in reports["markdown"].read_text().splitlines()[0]
    assert 'name="interrupted" value="true"' in reports["junit"].read_text()
