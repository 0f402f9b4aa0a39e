"""Helpers shared by the tests: the in-process CLI, one poll with a deadline, this session's processes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

from fakeai_contract.cli import main

#: For a pytest a test starts: the test environment's plugins that have nothing to do with ours. Left
#: loaded, hypothesis alone costs that pytest a second of CPU (its whole package is assertion-rewritten).
FOREIGN_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:faker", "-p", "no:anyio")
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


#: A check run on every round of a poll: a message ends the wait at once (say, the process died).
Stop = Callable[[], "str | None"]


def poll(probe: Callable[[], Any], timeout: float = 5.0, *, interval: float = 0.02, what: str = "the condition",
         stop: Stop | None = None) -> Any:
    """Call PROBE until it returns something truthy and return that; AssertionError after TIMEOUT
    seconds, or as soon as STOP returns a message. Every wait in the tests goes through here."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        _give_up(value, deadline, timeout, what, stop)
        time.sleep(interval)


async def poll_async(probe: Callable[[], Any], timeout: float = 5.0, *, interval: float = 0.005,
                     what: str = "the condition", stop: Stop | None = None) -> Any:
    """`poll` inside an event loop: the loop keeps running between the rounds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        _give_up(value, deadline, timeout, what, stop)
        await asyncio.sleep(interval)


def _give_up(value: Any, deadline: float, timeout: float, what: str, stop: Stop | None) -> None:
    reason = stop() if stop is not None else None
    if reason:
        raise AssertionError(f"stopped waiting for {what}: {reason}")
    if time.monotonic() > deadline:
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {value!r})")


def marked_processes(value: str | None = None, name: str = MARK) -> list[int]:
    """PIDs (other than this one) whose environment carries NAME=VALUE (default: this session's mark)."""
    needle = f"{name}={value or os.environ[name]}".encode()
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
