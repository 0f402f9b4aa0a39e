"""Ctrl-C and SIGTERM during the load: exit 130, the ledger so far written and marked, no server left."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import poll
from tests.misbehaving_server import MisbehavingServer

ROOT = Path(__file__).resolve().parent.parent
MANY = ROOT / "tests" / "data" / "contracts" / "hardening" / "many.yaml"
TRACEBACK = "Traceback (most recent call last)"


def _children(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is PID."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _requests_logged(log: Path) -> int:
    try:
        return log.read_text(errors="replace").count("POST /v1/chat/completions")
    except OSError:
        return 0


@contextlib.contextmanager
def _started(cmd: list[str], **kw):
    """A real `fakeai-contract` subprocess, killed on the way out if a test step failed."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _interrupted_ledger(proc: subprocess.Popen, out: str, err: str, report: Path) -> dict:
    """Exit 130, no traceback, and a complete JSON ledger (not a torn write) marked interrupted."""
    assert proc.returncode == 130, err[-3000:]
    assert TRACEBACK not in out + err, err[-3000:]
    ledger = json.loads(report.read_text())
    assert ledger["interrupted"] is True
    return ledger


def _poll(condition, timeout: float, what: str, proc: subprocess.Popen) -> None:
    poll(condition, timeout, interval=0.05, what=what, stop=lambda: _ended(proc))


def _ended(proc: subprocess.Popen) -> str | None:
    """Why waiting on the run is pointless: it ended, with its output."""
    if proc.poll() is None:
        return None
    out, err = proc.communicate()
    return f"the run ended (exit {proc.returncode}):\n{out}\n{err}"


@pytest.mark.timeout(90)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_during_load_writes_the_ledger_and_stops_the_server(tmp_path, signum):
    report = tmp_path / "ledger.json"
    log = tmp_path / "server.log"          # a started server's output goes beside the first report
    cmd = [sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--serve-reference",
           "--reference-arg=--latency=0.2", "--reference-arg=--access-log",
           "--report", f"json:{report}", "--no-color"]
    with _started(cmd, env={**os.environ, "NO_COLOR": "1"}) as proc:
        _poll(lambda: _children(proc.pid), 30, "the reference server to start", proc)
        servers = _children(proc.pid)
        _poll(lambda: _requests_logged(log) >= 3, 45, "the load phase to send requests", proc)
        t0 = time.monotonic()
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - t0

    ledger = _interrupted_ledger(proc, out, err, report)
    assert stopped_in < 15, f"took {stopped_in:.1f}s to stop after the signal"
    assert not report.with_name(report.name + ".tmp").exists()
    assert ledger["summary"]["exit_code"] == 130
    ids = [e["id"] for e in ledger["entries"]]
    assert ids[0] == "health" and ledger["entries"][0]["status"] == "pass"
    done = [e for e in ledger["entries"] if e["id"].startswith("load/non-streaming/")]
    assert 2 <= len(done) < 300, ids                # the requests so far, not the whole load
    assert all(e["status"] == "pass" for e in done[:2]), done[:2]
    assert not any(i.startswith(("endpoint/", "check/request-count")) for i in ids), ids  # never reached
    assert ledger["meta"]["server"]["log"] == str(log)

    # the reference server the run started is gone, not orphaned
    assert servers
    for pid in servers:
        poll(lambda: not _alive(pid), 5, what=f"reference server {pid} to end with the interrupted run")


@pytest.mark.timeout(60)
def test_interrupt_while_waiting_for_health_is_recorded(tmp_path):
    """A run interrupted before any entry exists still writes a valid, interrupted ledger."""
    import socket

    report = tmp_path / "ledger.json"
    with socket.socket() as listener:              # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = "http://127.0.0.1:%d" % listener.getsockname()[1]
        cmd = [sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--base-url", url,
               "--set", "SERVER_TIMEOUT=60", "--report", f"json:{report}", "--no-color"]
        with _started(cmd) as proc:
            listener.settimeout(30)
            conn, _ = listener.accept()            # the health wait has started
            conn.close()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    ledger = _interrupted_ledger(proc, out, err, report)
    assert ledger["summary"]["exit_code"] == 130


def _served(port: int) -> int:
    """How many chat requests the server on PORT has answered (0 while it is not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics/errors", timeout=1) as resp:
            return json.load(resp)["total_requests"]
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_second_ctrl_c_while_a_wedged_server_is_stopped_keeps_the_ledger(tmp_path):
    """Ctrl-C twice: the second lands while the runner waits for a server that ignores SIGTERM."""
    from fakeai_contract.lifecycle import free_port

    report = tmp_path / "ledger.json"
    port = free_port()
    server_cmd = (f"{sys.executable} {ROOT / 'tests' / 'misbehaving_server.py'} ok --port {port} "
                  "--latency 0.1 --ignore-sigterm")
    cmd = [sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--serve", server_cmd,
           "--port", str(port), "--set", "SERVER_TIMEOUT=30", "--report", f"json:{report}", "--no-color"]
    with _started(cmd) as proc:
        _poll(lambda: _served(port) >= 3, 45, "the load phase to send requests", proc)
        servers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        log = tmp_path / "server.log"
        _poll(lambda: "SIGTERM received and ignored" in log.read_text(errors="replace"), 10,
              "the runner to ask the server to stop", proc)
        # the runner now waits out the server's grace period: interrupt it once more
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    ledger = _interrupted_ledger(proc, out, err, report)
    assert any(e["id"].startswith("load/non-streaming/") for e in ledger["entries"])
    for pid in servers:
        assert not _alive(pid), f"server {pid} survived"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_at_many_points_of_the_load_is_always_clean(tmp_path, signum):
    """The signal lands wherever the event loop happens to be: never a stray traceback, always a ledger."""
    for i in range(8):
        report = tmp_path / f"ledger-{i}.json"
        with MisbehavingServer("ok") as server:
            proc = subprocess.Popen([sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--base-url",
                                     server.url, "--report", f"json:{report}", "--no-color"],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                _poll(lambda: server.counters.requests >= 2 + 7 * i, 30, "the load phase", proc)
                proc.send_signal(signum)
                out, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        assert proc.returncode == 130, (i, err[-3000:])
        assert "Traceback" not in err, (i, err[-3000:])
        assert json.loads(report.read_text())["interrupted"] is True


@pytest.mark.timeout(90)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_requests_that_finished_before_the_interrupt_are_in_its_ledger(tmp_path, signum):
    """The runner records each request as it finishes, not when the load phase returns."""
    report = tmp_path / "ledger.json"
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "fakeai_contract", "run", str(MANY), "--serve-reference",
           "--reference-arg=--latency=0.3", "--reference-arg=--access-log",
           "--report", f"json:{report}", "--no-color"]
    with _started(cmd, env={**os.environ, "NO_COLOR": "1"}) as proc:
        _poll(lambda: _requests_logged(log) >= 5, 45, "the server to answer five requests", proc)
        answered = _requests_logged(log)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    ledger = _interrupted_ledger(proc, out, err, report)
    done = [e for e in ledger["entries"] if e["phase"] == "load"]
    # concurrency 1: every answered request but the one still in flight has finished in the client
    assert len(done) >= answered - 1, (answered, [e["id"] for e in done])
    assert [e["id"] for e in done] == [f"load/non-streaming/{n}" for n in range(1, len(done) + 1)]
    assert all(e["status"] == "pass" and e["observed"]["http_status"] == 200 for e in done), done
    assert not any(e["id"].startswith(("schema/responses/", "check/responses/")) for e in ledger["entries"])
