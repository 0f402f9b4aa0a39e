"""Shared test fixtures; and the guarantee that no server process outlives the test session."""

from __future__ import annotations

import os
import signal

import pytest

from tests.helpers import marked_processes, poll, run_cli


def pytest_sessionfinish(session, exitstatus):
    try:
        poll(lambda: not marked_processes(), 10, interval=0.1, what="every server process to end")
    except AssertionError:
        survivors = marked_processes()
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print(f"\nERROR: server processes survived the tests: {survivors}")
        session.exitstatus = 1


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The in-process CLI, run from a temporary folder so nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)
    return run_cli
