"""What a process and its descendants use, read from /proc (Linux): CPU time and memory.

A tool that runs as many processes (AIPerf starts a dozen services) is measured as a tree: its
memory is the peak of the summed PSS of every live process (shared pages split between the
processes that map them, so nothing is counted twice), and its CPU is the larger of what wait4
reports (the reaped descendants) and the last CPU time sampled of each process seen (a descendant
that was never waited for would be missing from wait4's figure).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of PID (all its threads'), or [] once it is gone."""
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """PID and every descendant of it alive now."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children(p)
    return found


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds PID has used so far (its own threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_S      # utime, stime (fields 14 and 15)


def pss_mb(pid: int) -> float:
    """Proportional set size of PID in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class TreeWatch:
    """Samples the tree under a pid every INTERVAL seconds until `stop()`."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid = pid
        self.interval = interval
        self.peak_pss_mb = 0.0
        self.processes: set[int] = set()
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = tree(self.pid)
            self.processes.update(pids)
            self.peak_pss_mb = max(self.peak_pss_mb, sum(pss_mb(p) for p in pids))
            for p in pids:
                used = cpu_s(p)
                if used is not None:
                    self._cpu[p] = used
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_s(self) -> float:
        """The sum over every process seen of its last sampled CPU time."""
        return sum(self._cpu.values())
