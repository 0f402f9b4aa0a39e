"""Helpers shared by the tests: the in-process CLI, one poll with a deadline, this session's processes."""

from __future__ import annotations

import io
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from fakeai_contract.cli import main

MARK = "FAKEAI_CONTRACT_TEST_SESSION"
os.environ.setdefault(MARK, uuid.uuid4().hex)   # every process the tests start inherits it


class CliResult:
    """What one in-process CLI run returned and printed."""

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
