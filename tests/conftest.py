"""Shared test fixtures; and the guarantee that no server process outlives the test session."""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from fakeai_contract.cli import main

ROOT = Path(__file__).resolve().parent.parent
MARK = "FAKEAI_CONTRACT_TEST_SESSION"
os.environ.setdefault(MARK, uuid.uuid4().hex)   # every process the tests start inherits it


def marked_processes() -> list[int]:
    """PIDs (other than this one) whose environment carries this session's mark."""
    needle = f"{MARK}={os.environ[MARK]}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def pytest_sessionfinish(session, exitstatus):
    deadline = time.monotonic() + 10
    survivors = marked_processes()
    while survivors and time.monotonic() < deadline:
        time.sleep(0.1)
        survivors = marked_processes()
    if survivors:
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print(f"\nERROR: server processes survived the tests: {survivors}")
        session.exitstatus = 1


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def ledger(self) -> dict:
        return json.loads(self.out)


def run_cli(*argv: str) -> CliResult:
    """Run the CLI in-process with in-memory streams."""
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The in-process CLI, run from a temporary folder so nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)
    return run_cli
