"""End to end: the runner owns the server's lifecycle and reads its log for real (issue 5)."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest

from fakeai_contract.lifecycle import ServerProcess, free_port, reference_command
from tests.helpers import marked_processes, poll

pytestmark = pytest.mark.timeout(120)


def entry(ledger: dict, id: str) -> dict:
    return next(e for e in ledger["entries"] if e["id"] == id)


def test_a_traceback_in_the_server_log_fails_the_log_check(cli):
    r = cli("run", "--serve-reference", "--reference-arg=--log-errors", "--reference-arg=--error-rate=0.2",
            "--reference-arg=--seed=11", "--report", "json:-")
    logs = entry(r.ledger, "logs")
    assert r.code == 1 and logs["status"] == "fail"
    failures = r.ledger["client"]["requests"]["failed"]
    assert failures > 0
    findings = logs["observed"]["findings"]
    assert logs["observed"]["total_findings"] == failures      # one finding per traceback, not per line
    assert findings[0]["text"].startswith("fakeai_contract.reference.faults.InjectedServerError")
    assert "ERROR" in findings[0]["excerpt"][0]      # the log record that introduced it ...
    assert findings[0]["excerpt"][1] == "Traceback (most recent call last):"   # ... and its traceback


def test_a_clean_run_passes_the_log_check(cli):
    r = cli("run", "--serve-reference", "--report", "json:-")
    logs = entry(r.ledger, "logs")
    assert logs["status"] == "pass" and logs["observed"]["total_findings"] == 0
    assert logs["observed"]["lines_scanned"] >= 1


@pytest.mark.slow
def test_a_server_that_dies_during_the_load_is_reported_not_hung(cli):
    t0 = time.monotonic()
    r = cli("run", "--serve-reference", "--reference-arg=--crash-after=5", "--set", "CONCURRENCY=1",
            "--report", "json:-")
    assert time.monotonic() - t0 < 30
    assert r.code == 1 and "Traceback" not in r.err
    exit_entry = entry(r.ledger, "server/exit")
    assert exit_entry["status"] == "fail" and exit_entry["observed"]["exit_code"] == 70
    assert any("crashing on chat request 5" in line for line in exit_entry["observed"]["log_tail"])
    requests = [e for e in r.ledger["entries"] if "request" in e["tags"]]
    assert [e["status"] for e in requests[:4]] == ["pass"] * 4
    assert all(e["status"] == "fail" for e in requests[4:])
    assert entry(r.ledger, "endpoint/metrics")["status"] == "fail"
    assert entry(r.ledger, "check/request-count-consistency")["status"] == "error"


def test_a_server_that_exits_at_start_fails_fast_with_its_last_lines(cli):
    script = "import sys; print('starting'); print('bind failed: port in use', file=sys.stderr); sys.exit(4)"
    t0 = time.monotonic()
    r = cli("run", "--serve", f"{sys.executable} -c \"{script}\"", "--set", f"FAKEAI_PORT={free_port()}",
            "--report", "json:-")
    assert time.monotonic() - t0 < 10          # not the 45 s health timeout
    health = entry(r.ledger, "health")
    assert r.code == 1 and health["status"] == "fail"
    assert "exited with code 4" in health["message"] and "bind failed" in health["message"]


def test_serve_without_a_command_needs_a_server_block(cli):
    r = cli("run", "fakeai-final", "--serve")
    assert r.code == 2 and "server:" in r.err


def test_serve_without_a_command_starts_the_contracts_server_block(cli, tmp_path):
    port = free_port()
    contract = tmp_path / "own.yaml"
    contract.write_text(
        "extends: [fakeai-final]\n"
        "server:\n"
        f"  command: [{sys.executable}, -m, fakeai_contract, serve, --port, '${{FAKEAI_PORT}}']\n"
        "  ready_timeout: 30\n")
    r = cli("run", str(contract), "--serve", "--set", f"FAKEAI_PORT={port}", "--report", "json:-")
    assert r.code == 0, [e for e in r.ledger["entries"] if e["status"] not in ("pass", "skip")]
    assert r.ledger["target"] == f"http://127.0.0.1:{port}"


def _append(path: Path, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text)


@pytest.mark.parametrize("faulty", [False, True])
def test_log_file_counts_only_the_lines_gained_during_the_run(cli, tmp_path, faulty):
    log = tmp_path / "server.log"
    _append(log, "ERROR from yesterday\nTraceback (most recent call last):\n  old\nValueError: old\n")
    port = free_port()
    args = ["--log-errors", "--error-rate=0.3", "--seed=2"] if faulty else []
    with ServerProcess(reference_command(args, port), log_path=log):
        r = cli("run", "--port", str(port), "--log-file", str(log), "--report", "json:-")
    logs = entry(r.ledger, "logs")
    if faulty:
        assert logs["status"] == "fail"
        assert all("old" not in f["text"] for f in logs["observed"]["findings"])
        assert logs["observed"]["findings"][0]["line"] >= 1
    else:
        assert logs["status"] == "pass", logs
        assert r.code == 0


def test_no_server_process_outlives_a_run(cli, monkeypatch):
    # a mark of this test's own: servers that other tests start meanwhile do not carry it
    monkeypatch.setenv("FAKEAI_CONTRACT_TEST_RUN", uuid.uuid4().hex)
    r = cli("run", "--serve-reference", "--quiet")
    assert r.code == 0, r.err
    poll(lambda: not marked_processes(name="FAKEAI_CONTRACT_TEST_RUN"), 5, what="every server the run started to end")


def test_a_server_command_that_does_not_exist_is_exit_2_without_a_report(cli):
    r = cli("run", "--serve", "no-such-server-binary --port 1")
    assert r.code == 2 and "no-such-server-binary" in r.err
    assert "FINAL TEST REPORT" not in r.out + r.err and "Traceback" not in r.err


def test_runs_from_a_worker_thread_without_touching_signal_handlers(tmp_path, monkeypatch):
    import threading
    from tests.helpers import run_cli

    monkeypatch.chdir(tmp_path)
    box = {}
    t = threading.Thread(target=lambda: box.update(r=run_cli("run", "--serve-reference", "--quiet")))
    t.start()
    t.join(60)
    assert box["r"].code == 0, box["r"].err
