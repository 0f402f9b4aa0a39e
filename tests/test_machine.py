"""How the suite's workers share the machine (tests/machine.py): the collection's layout for
worksteal, the lanes timing tests take, and whether a worker may come back from nice 19."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field

import pytest

from tests.helpers import poll
from tests.machine import Machine, _can_come_back, cores, order, shares


@dataclass(eq=False)
class Item:
    """What order() reads of a pytest item: its node id and its markers."""

    nodeid: str
    marks: dict = field(default_factory=dict)

    def get_closest_marker(self, name):
        return self.marks.get(name)


@dataclass
class Mark:
    kwargs: dict = field(default_factory=dict)


def timing(nodeid, **kwargs):
    return Item(nodeid, {"timing": Mark(kwargs)})


def collection():
    light = [timing(f"tests/test_t{i}.py::test_{i}", seconds=s) for i, s in enumerate((12, 4, 3, 3, 2, 1, 1, 1))]
    shared = [timing(f"tests/test_e2e_cases.py::test_case[{i}]") for i in range(3)]
    heavy = [timing("tests/test_rate.py::test_rate", cores=2, seconds=11)]
    slow = [Item(f"tests/test_slow{i % 3}.py::test_{i}", {"slow": Mark()}) for i in range(6)]
    quick = [Item(f"tests/test_q{i // 10}.py::test_{i}") for i in range(100)]
    # collected interleaved, as pytest would find them file by file
    return quick[:40] + light[:4] + slow + shared + quick[40:] + heavy + light[4:]


def test_timing_tests_open_the_first_two_shares_and_slow_ones_open_the_rest():
    items = collection()
    laid = list(items)
    order(laid, 6)
    assert sorted(map(id, laid)) == sorted(map(id, items))           # the same tests, each once
    first = len(items) // 6
    second = (len(items) - first) // 5
    one, two = laid[:first], laid[first:first + second]
    runs = [[i for i in share if cores(i)] for share in (one, two)]
    assert runs[0] == one[:len(runs[0])] and runs[1] == two[:len(runs[1])]   # each share opens with its run
    assert len(runs[0]) + len(runs[1]) == sum(1 for i in items if cores(i))
    assert cores(runs[0][-1]) == 2                                     # every-lane tests close the first run
    # a module with a shared fixture stays in one run; the one-core runs are balanced, longest first
    assert sum(i.nodeid.startswith("tests/test_e2e_cases.py") for i in runs[0]) in (0, 3)
    load = [sum(i.get_closest_marker("timing").kwargs.get("seconds", 1) for i in r if cores(i) == 1) for r in runs]
    assert load == [15, 15]
    # the slow tests, a module at a time, open the next shares in turn
    sizes = shares(len(items), 6)
    assert sizes[:2] == [first, second] and sum(sizes) == len(items)
    starts = [sum(sizes[:k]) for k in range(2, 5)]
    assert [[i.nodeid.split("::")[0] for i in laid[s:s + 2]] for s in starts] == [
        [f"tests/test_slow{m}.py"] * 2 for m in range(3)]


def test_one_worker_runs_the_timing_tests_first_and_keeps_the_rest_in_order():
    items = collection()
    laid = list(items)
    order(laid, 1)
    n = sum(1 for i in items if cores(i))
    assert all(cores(i) for i in laid[:n])
    assert laid[n:] == [i for i in items if not cores(i)]


def _machines(tmp_path, monkeypatch, n):
    monkeypatch.setattr(Machine, "_apply", lambda self, nice, cpus: None)   # never renice the test itself
    machines = [Machine(tmp_path) for _ in range(n)]
    for m in machines:
        m.prioritised, m.lanes, m.cpus = True, 2, [0, 1]
    return machines


def test_two_one_core_tests_take_the_two_lanes_and_an_every_lane_test_waits_for_both(tmp_path, monkeypatch):
    a, b, c = _machines(tmp_path, monkeypatch, 3)
    assert a._take_lanes(1) == [0] and b._take_lanes(1) == [1]
    taken = []
    waiter = threading.Thread(target=lambda: taken.append(c._take_lanes(2)), daemon=True)
    waiter.start()
    a.leave()
    waiter.join(0.3)
    assert taken == []                           # lane 1 is still held
    b.leave()
    poll(lambda: taken, 5, what="the every-lane test to get both lanes")
    assert taken == [[0, 1]]
    c.leave()


def test_lock_mode_keeps_the_exclusive_hold_across_timing_tests_only(tmp_path, monkeypatch):
    (m,) = _machines(tmp_path, monkeypatch, 1)
    m.prioritised = False
    m.enter(1)
    assert m.exclusive_hold is True
    m.leave(keep=True)
    assert m.held                                # kept into the next timing test
    m.leave()
    assert not m.held
    m.enter(0)
    assert m.exclusive_hold is False
    m.leave(keep=True)
    assert not m.held                            # a shared hold is never kept


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_a_worker_without_cap_sys_nice_knows_it_cannot_come_back():
    probe = "from tests.machine import _can_come_back; print(_can_come_back(0))"
    here = str(_can_come_back(0))           # as root: True; the capability dropped: False
    for drop, expected in (([], here), (["--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice"], "False")):
        out = subprocess.run(["setpriv", *drop, sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=30, cwd=os.path.dirname(os.path.dirname(__file__)))
        assert out.stdout.strip() == expected, out.stderr
