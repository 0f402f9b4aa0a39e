"""The health wait: answers that cannot heal end it at once; it talks while it waits."""

from __future__ import annotations

import io
import socket
import time

import pytest

from fakeai_contract.reference import ReferenceOptions, ReferenceServer
from tests.helpers import run_cli
from fakeai_contract.cli import main


@pytest.fixture(scope="module")
def reference():
    with ReferenceServer(ReferenceOptions()) as srv:
        yield srv


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_404_ends_the_wait_at_once_with_a_hint(reference):
    t0 = time.monotonic()
    result = run_cli("run", "--base-url", reference.base_url + "/api", "--set", "SERVER_TIMEOUT=30",
                     "--no-color", "-q", "--report", "json:-")
    assert time.monotonic() - t0 < 5
    assert result.code == 1
    health = result.ledger["entries"][0]
    assert health["status"] == "fail" and health["observed"]["attempts"] == 1
    assert "waiting does not change that answer" in health["message"]
    assert "set health.path" in health["message"]


def test_a_404_on_a_v1_health_path_asks_about_the_base_url(reference, tmp_path):
    contract = tmp_path / "c.yaml"
    contract.write_text("contract: c\nversion: 1\nextends: [fakeai-final]\nhealth: {path: /v1/health}\n")
    result = run_cli("run", str(contract), "--base-url", reference.base_url, "--set", "SERVER_TIMEOUT=30",
                     "--no-color", "-q", "--report", "json:-")
    assert result.code == 1
    assert "the base URL ends in /v1?" in result.ledger["entries"][0]["message"]


def test_connection_refused_keeps_waiting():
    result = run_cli("run", "--base-url", f"http://127.0.0.1:{_closed_port()}", "--set", "SERVER_TIMEOUT=1.5",
                     "--no-color", "-q", "--report", "json:-")
    health = result.ledger["entries"][0]
    assert result.code == 1 and health["observed"]["attempts"] >= 2
    assert health["observed"]["elapsed_s"] >= 1.0
    assert "cannot connect" in health["message"]


def test_off_a_tty_the_wait_prints_a_line_every_few_seconds(monkeypatch):
    """The period shortened from 5 s (its cadence has a unit test in test_cli_commands.py): a 0.7 s
    wait polled every 0.5 s prints the one line due at 0.4 s, and not another before 0.8 s."""
    from fakeai_contract.commands.run import _Progress

    monkeypatch.setattr(_Progress, "PERIOD_S", 0.4)
    result = run_cli("run", "--base-url", f"http://127.0.0.1:{_closed_port()}", "--set", "SERVER_TIMEOUT=0.7",
                     "--no-color")
    lines = [ln for ln in result.err.splitlines() if ln.startswith("health: waiting for http://127.0.0.1:")]
    assert len(lines) == 1, result.err
    assert "attempts" in lines[0] and "of 0.7s" in lines[0] and "\r" not in result.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_tty_a_live_line_shows_what_it_waits_for():
    out, err = io.StringIO(), _Terminal()
    url = f"http://127.0.0.1:{_closed_port()}/health"
    code = main(["run", "--base-url", url[:-len("/health")], "--set", "SERVER_TIMEOUT=1", "--no-color"], out, err)
    assert code == 1
    live = [part for part in err.getvalue().split("\r\x1b[K") if part.startswith("  health: ")]
    assert live and all(f"waiting for {url}:" in part for part in live)
    assert "attempt" in live[-1] and "s of 1s" in live[-1]
    assert err.getvalue().endswith("\r\x1b[K")      # the line is cleared before the report


def test_a_run_that_never_got_healthy_still_counts_the_requests_it_planned(reference):
    """The skipped load's heading counts the planned requests (20), not its mix entries (2)."""
    result = run_cli("run", "--base-url", reference.base_url + "/api", "--no-color")
    assert result.code == 1
    assert "Executing Test Load (20 Requests)" in result.out
    assert "Executing Test Load (2 Requests)" not in result.out
