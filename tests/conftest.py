"""Shared test fixtures; the guarantee that no server process outlives the test session; and, when
the suite runs on several workers (pytest-xdist), how they share the machine (tests/machine.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.helpers import MARK, marked_processes, poll, run_cli
from tests.machine import Machine, cores, order

#: Tests whose assertions read a clock (client TTFT/ITL accuracy, achieved rates, saturation, stalls,
#: server timing held against the client's), in files that mark them elsewhere: node id prefixes.
#: How many cores each needs (tests/machine.py): the real proxy keeps two busy.
TIMING_ELSEWHERE = {
    "tests/test_packs.py::test_timing_checks_hold_the_server_to_the_client_within_bucket_resolution": 1,
    "tests/test_litellm_real.py::test_the_litellm_pack_passes_on_the_real_proxy": 2,
}
_LOCKS = "fakeai_contract_locks"     # the folder of the lock files, handed from the controller to workers


def pytest_configure(config):
    config.addinivalue_line("markers", "timing(cores=1): reads a clock; runs on cores of its own (tests/machine.py)")
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        os.environ[MARK] = worker[MARK]     # the controller's mark: its final check sees every worker's servers
    elif _distributed(config):
        # The workers must not carry the mark themselves (the final check would wait for them): the
        # controller keeps it out of its environment, and hands it to each worker with the lock folder.
        config.stash[_MARK_KEY] = os.environ.pop(MARK)
        config.stash[_LOCKS_KEY] = tempfile.mkdtemp(prefix="fakeai-contract-locks-")


_MARK_KEY = pytest.StashKey[str]()
_LOCKS_KEY = pytest.StashKey[str]()


def _distributed(config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) and getattr(config.option, "dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput[MARK] = node.config.stash[_MARK_KEY]
    node.workerinput[_LOCKS] = node.config.stash[_LOCKS_KEY]


def pytest_collection_modifyitems(config, items):
    for item in items:
        for prefix, n in TIMING_ELSEWHERE.items():
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.timing(cores=n))
    worker = getattr(config, "workerinput", None)
    if worker is not None:
        order(items, worker["workercount"])


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """On a worker, hold this test's share of the machine (tests/machine.py) around its setup, call
    and teardown: module fixtures start and stop inside some test's protocol."""
    folder = getattr(item.config, "workerinput", {}).get(_LOCKS)
    if folder is None:
        yield
        return
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = Machine(Path(folder))
    _MACHINE.enter(cores(item))
    try:
        yield
    finally:
        _MACHINE.leave(keep=bool(cores(item)) and nextitem is not None and bool(cores(nextitem)))


_MACHINE: Machine | None = None


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):
        return          # a worker: servers of other workers still run; the controller checks them all
    mark = session.config.stash.get(_MARK_KEY, None)
    if session.config.stash.get(_LOCKS_KEY, None):
        shutil.rmtree(session.config.stash[_LOCKS_KEY], ignore_errors=True)
    try:
        poll(lambda: not marked_processes(mark), 10, interval=0.1, what="every server process to end")
    except AssertionError:
        survivors = marked_processes(mark)
        for pid in survivors:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print(f"\nERROR: server processes survived the tests: {survivors}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def once(request):
    """once(key, produce): PRODUCE's JSON-ready result, computed by the first worker that asks and
    read back by the others (on one process: simply produced). For a costly run several tests read."""
    folder = getattr(request.config, "workerinput", {}).get(_LOCKS)
    cache: dict[str, Any] = {}

    def get(key: str, produce: Callable[[], Any]) -> Any:
        if key not in cache:
            cache[key] = produce() if folder is None else _shared(Path(folder), key, produce)
        return cache[key]
    return get


def _shared(folder: Path, key: str, produce: Callable[[], Any]) -> Any:
    result = folder / f"{key}.json"
    with open(folder / f"{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # the others wait here while the first one produces
        try:
            if not result.exists():
                value = produce()
                result.with_suffix(".tmp").write_text(json.dumps(value))
                result.with_suffix(".tmp").replace(result)
            return json.loads(result.read_text())
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The in-process CLI, run from a temporary folder so nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)
    return run_cli
