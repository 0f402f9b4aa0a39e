"""How the suite's workers (pytest-xdist) share this machine: timing tests get cores of their own,
the other tests fill what they leave idle.

A timing test reads a clock (client TTFT and ITL, achieved rates, saturation, stalls, a server's
timing held against the client's): a busy neighbour would change what it measures. Where a worker may
raise its priority again after lowering it (root, or CAP_SYS_NICE):

- an ordinary test runs at the lowest priority (nice 19), with every process it starts, on any core;
- a timing test runs at normal priority in a *lane*: one core it is pinned to, with everything it
  starts, and no other timing test beside it there; nice 19 work yields that core whenever the test
  wants it. `@pytest.mark.timing(cores=2)` takes every lane, on every core (a second worker process,
  a rate that keeps client and server both busy, the LiteLLM proxy, two runs held against each other);
- so two one-core timing tests run at once on a two-core machine, and the ordinary tests use the rest.

Elsewhere a worker cannot come back from nice 19, and timing tests take the machine alone as before:
ordinary tests hold a shared lock, a timing test the exclusive one, and a turnstile in front of the
shared lock stops new ordinary tests from starting while a timing test waits for the machine.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

NICE_BACKGROUND = 19


def cores(item) -> int:
    """0 for an ordinary test; else how many lanes the timing test needs (1, or every lane)."""
    mark = item.get_closest_marker("timing")
    return 0 if mark is None else int(mark.kwargs.get("cores", 1))


def seconds(item) -> float:
    """A timing test's rough length (`timing(seconds=...)`, else 1): for balancing the two lanes."""
    return float(item.get_closest_marker("timing").kwargs.get("seconds", 1))


def shares(n: int, workers: int) -> list[int]:
    """How many of N tests pytest-xdist's worksteal first hands each of WORKERS, in order."""
    sizes = []
    for i in range(workers):
        sizes.append((n - sum(sizes)) // (workers - i))
    return sizes


def order(items: list, workers: int) -> None:
    """Lay the collection out for pytest-xdist's worksteal, which hands each worker a contiguous share
    (`shares`) and lets an idle worker take the back half of the longest queue left:

    - the timing tests open the first two shares, in two runs a worker each, so two one-core tests
      run side by side; the one-core tests are dealt longest first to the run with less so far
      (whole modules where a module fixture would otherwise start twice); the tests that take every
      lane close the first run;
    - the rest of those two shares is ordinary tests from the end of the collection;
    - the slow ordinary tests (`slow`), a module at a time, open the other shares in turn, so no
      worker is left with a row of them at the end.

    A stable order: every worker collects the same one."""
    timing = [i for i in items if cores(i)]
    if workers < 2:
        items[:] = timing + [i for i in items if not cores(i)]
        return
    runs = _lanes(timing)
    slow = [i for i in items if not cores(i) and i.get_closest_marker("slow") is not None]
    rest = [i for i in items if not cores(i) and i.get_closest_marker("slow") is None]
    sizes = shares(len(items), workers)
    fill = [max(sizes[0] - len(runs[0]), 0), max(sizes[1] - len(runs[1]), 0)]
    taken = min(sum(fill), len(rest))
    quick, rest = rest[len(rest) - taken:], rest[:len(rest) - taken]
    first, second = runs[0] + quick[:fill[0]], runs[1] + quick[fill[0]:]
    others: list[list] = [[] for _ in range(max(workers - 2, 1))]
    for n, unit in enumerate(_modules(slow)):
        others[n % len(others)].extend(unit)
    for share, size in zip(others, sizes[2:]):
        room = max(size - len(share), 0)
        share.extend(rest[:room])
        rest = rest[room:]
    others[-1].extend(rest)
    items[:] = first + second + [i for share in others for i in share]


def _lanes(timing: list) -> tuple[list, list]:
    """The two runs of timing tests: one-core units longest first to the lighter run, then the
    tests that take every lane at the end of the first."""
    units: dict[str, list] = {}
    for item in timing:
        if cores(item) == 1:
            module = item.nodeid.split("::")[0]
            units.setdefault(module if module in SHARED_FIXTURES else item.nodeid, []).append(item)
    runs: tuple[list, list] = ([], [])
    load = [0.0, 0.0]
    for unit in sorted(units.values(), key=lambda u: -sum(map(seconds, u))):
        lane = 0 if load[0] <= load[1] else 1
        runs[lane].extend(unit)
        load[lane] += sum(map(seconds, unit))
    runs[0].extend(i for i in timing if cores(i) > 1)
    return runs


def _modules(items: list) -> list[list]:
    """ITEMS grouped by module, in order of first appearance."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(item.nodeid.split("::")[0], []).append(item)
    return list(groups.values())


#: Modules whose timing tests share a module-scoped fixture: kept in one lane.
SHARED_FIXTURES = {"tests/test_e2e_cases.py", "tests/test_litellm_real.py", "tests/test_fakeai_real.py"}


class Machine:
    """This worker's share of the machine; `enter` before a test's setup, `leave` after its teardown."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.normal = os.getpriority(os.PRIO_PROCESS, 0)
        self.cpus = sorted(os.sched_getaffinity(0))
        self.prioritised = _can_come_back(self.normal)
        self.lanes = min(2, len(self.cpus)) if self.prioritised else 0
        self.held: list[IO] = []
        self.state: tuple[int, tuple[int, ...]] | None = None     # (nice, cpus) applied to our processes
        self.exclusive_hold: bool | None = None                    # the lock mode: holding it exclusively

    def enter(self, need: int) -> None:
        if not self.prioritised:
            self._lock(timing=need > 0)
        elif need == 0:
            self._apply(NICE_BACKGROUND, tuple(self.cpus))
        else:
            lanes = self._take_lanes(min(need, self.lanes))
            cpus = tuple(self.cpus) if len(lanes) == self.lanes else tuple(self.cpus[i] for i in lanes)
            self._apply(self.normal, cpus)

    def leave(self, keep: bool = False) -> None:
        """Let go of the lanes, or (lock mode, KEEP) keep the exclusive hold into the next timing test."""
        if keep and self.exclusive_hold:
            return
        for lock in self.held:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        self.held = []
        self.exclusive_hold = None

    # -- lanes -----------------------------------------------------------------------------

    def _take_lanes(self, n: int) -> list[int]:
        if n >= self.lanes:           # every lane, in order: two such tests cannot deadlock
            self.held = [_flock(self.folder / f"lane-{i}", fcntl.LOCK_EX) for i in range(self.lanes)]
            return list(range(self.lanes))
        for i in range(self.lanes):   # the first lane free; if none is, wait for this worker's own
            lock = open(self.folder / f"lane-{i}", "a")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            self.held = [lock]
            return [i]
        mine = os.getpid() % self.lanes
        self.held = [_flock(self.folder / f"lane-{mine}", fcntl.LOCK_EX)]
        return [mine]

    def _apply(self, nice: int, cpus: tuple[int, ...]) -> None:
        """Set NICE and CPUS on every thread of this worker and of the processes under it (a module
        fixture's server started under another state). Only on a change: the walk reads /proc."""
        if self.state == (nice, cpus):
            return
        for thread in _threads_under(os.getpid()):
            try:
                os.setpriority(os.PRIO_PROCESS, thread, nice)
                os.sched_setaffinity(thread, cpus)
            except (ProcessLookupError, PermissionError):
                pass          # gone, or not ours: it only shares the machine less well
        self.state = (nice, cpus)

    # -- the lock mode ---------------------------------------------------------------------

    def _lock(self, timing: bool) -> None:
        if self.exclusive_hold is not None and self.exclusive_hold == timing:
            return
        self.leave()
        with open(self.folder / "turnstile", "a") as gate:
            fcntl.flock(gate, fcntl.LOCK_EX)
            try:
                machine = _flock(self.folder / "machine", fcntl.LOCK_EX) if timing else None
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
        self.held = [machine or _flock(self.folder / "machine", fcntl.LOCK_SH)]
        self.exclusive_hold = timing


def _flock(path: Path, how: int) -> IO:
    lock = open(path, "a")
    fcntl.flock(lock, how)
    return lock


def _can_come_back(normal: int) -> bool:
    """Whether a thread at nice 19 may return to NORMAL: tried on a thread of its own, which ends."""
    answer = []

    def probe():
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, NICE_BACKGROUND)
        try:
            os.setpriority(os.PRIO_PROCESS, me, normal)
            answer.append(True)
        except PermissionError:
            answer.append(False)
    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return answer == [True]


def _threads_under(root: int) -> list[int]:
    """Every thread of ROOT and of the processes under it (Linux's nice and affinity are a thread's)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    threads, todo = [], [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            threads.extend(int(t.name) for t in Path(f"/proc/{pid}/task").iterdir())
        except OSError:
            continue
    return threads
