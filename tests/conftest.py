"""Shared test fixtures; the guarantee that no server process outlives the test session; and, when
the suite runs on several workers (pytest-xdist), a lock that keeps timing tests from sharing the machine."""

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

#: Tests whose assertions read a clock (client TTFT/ITL accuracy, achieved rates, saturation, stalls,
#: server timing held against the client's), in files that mark them elsewhere: node id prefixes.
TIMING_ELSEWHERE = (
    "tests/test_packs.py::test_pack_passes_on_its_flavor_of_the_reference_server",
    "tests/test_litellm_real.py::test_the_litellm_pack_passes_on_the_real_proxy",
)
_LOCKS = "fakeai_contract_locks"     # the folder of the lock files, handed from the controller to workers


def pytest_configure(config):
    config.addinivalue_line("markers", "timing: reads a clock; never runs beside another test")
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
        if item.nodeid.startswith(TIMING_ELSEWHERE):
            item.add_marker(pytest.mark.timing)
    if _distributed(config) or hasattr(config, "workerinput"):
        # Timing tests first, in one block (a stable sort: every worker collects the same order), so
        # the machine is emptied for them once rather than before each of them.
        items.sort(key=lambda item: not _timing(item))


def _timing(item) -> bool:
    return item.get_closest_marker("timing") is not None


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """On a worker, hold the shared lock for an ordinary test and the exclusive one for a timing test,
    around setup, call and teardown (module fixtures start and stop inside some test's protocol).
    The exclusive lock is kept from one timing test to the next one of the same worker."""
    folder = getattr(item.config, "workerinput", {}).get(_LOCKS)
    if folder is None:
        yield
        return
    _MACHINE.take(Path(folder), exclusive=_timing(item))
    try:
        yield
    finally:
        if not (_timing(item) and nextitem is not None and _timing(nextitem)):
            _MACHINE.release()


class _Machine:
    """This worker's hold on the machine lock. A turnstile stands in front of the shared lock: a
    timing test waiting for the machine stops new ordinary tests from starting, so it waits only
    for those already running."""

    def __init__(self):
        self.held: tuple[Any, bool] | None = None       # (the open lock file, exclusive)

    def take(self, folder: Path, exclusive: bool) -> None:
        if self.held is not None and self.held[1] == exclusive:
            return
        self.release()
        machine = open(folder / "machine", "a")
        with open(folder / "turnstile", "a") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                if exclusive:
                    fcntl.flock(machine, fcntl.LOCK_EX)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
        if not exclusive:
            fcntl.flock(machine, fcntl.LOCK_SH)
        self.held = (machine, exclusive)

    def release(self) -> None:
        if self.held is not None:
            fcntl.flock(self.held[0], fcntl.LOCK_UN)
            self.held[0].close()
            self.held = None


_MACHINE = _Machine()


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
