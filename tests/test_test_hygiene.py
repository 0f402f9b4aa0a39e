"""The tests' own rules: nothing imports conftest, and every wait goes through helpers.poll (a deadline,
no fixed sleep); the few sleeps left are not waits, and each says why."""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent
#: Modules that are servers or measure time themselves: their sleeps are what they serve or measure.
NOT_TESTS = {"misbehaving_server.py", "firehose_server.py", "helpers.py", Path(__file__).name}
#: Sleeps that are not waits for something to happen: (file, the line), each with its reason.
ALLOWED_SLEEPS = {
    # the workload whose event-loop lag the monitor must see
    ("test_measure_units.py", "await asyncio.sleep(0.01)"),
    # the moment, a third into the lag, at which the queue must still be full
    ("test_reference_units.py", "await asyncio.sleep(lag / 3)"),
    # a quiet window after the screenshot that catches late console errors and requests
    ("browser.py", "await asyncio.sleep(0.2)      # late console messages and requests"),
}


def _sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name not in NOT_TESTS and "perf" not in p.parts)


def test_no_test_imports_conftest():
    offenders = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[-1] == "conftest"]
    assert not offenders, "import from tests.helpers instead: " + ", ".join(offenders)


def test_every_wait_goes_through_the_poll_helper():
    found = set()
    for path in _sources():
        for line in path.read_text().splitlines():
            text = line.strip()
            if re.search(r"\b(time|asyncio)\.sleep\(", text) and not text.startswith(("#", '"', "'")) \
                    and "time.sleep(60)" not in text:    # a child process's script that must outlive the test
                found.add((path.name, text))
    assert found <= ALLOWED_SLEEPS, f"use tests.helpers.poll (a deadline, no fixed sleep): {found - ALLOWED_SLEEPS}"
