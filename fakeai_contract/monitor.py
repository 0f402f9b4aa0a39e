"""The client watching itself during the traffic: event-loop lag, CPU use and requests in flight.

A client that is itself saturated reports the server slower than it is: a late wake-up of the event
loop delays the timestamp of every byte that arrived meanwhile. So the runner samples its own loop
(how late a timer fires against when it was scheduled), its process CPU time, and its in-flight
count, and says when those figures were bad enough to skew what it measured.
"""

from __future__ import annotations

import asyncio
import os
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

from fakeai_contract.expr import percentile

INTERVAL_S = 0.05            # one sample every 50 ms: cheap (about 20 wake-ups a second)
LAG_LIMIT_S = 0.010          # a wake-up later than this delays byte timestamps measurably
LAG_SHARE_LIMIT = 0.20       # ... for a sustained share (a fifth) of the samples
CPU_LIMIT = 0.90             # of one core: a single-threaded loop cannot go much higher
MIN_WALL_S = 0.5             # traffic shorter than this says nothing either way
MIN_SAMPLES = 3


@dataclass
class Monitor:
    """Samples the running loop until stopped; `summary()` is the ledger's `client.runner`."""

    interval_s: float = INTERVAL_S
    in_flight: int = 0
    lag: array = field(default_factory=lambda: array("d"))
    cpu: array = field(default_factory=lambda: array("d"))
    flight: array = field(default_factory=lambda: array("l"))
    peak_in_flight: int = 0
    workers: int = 1
    _task: asyncio.Task | None = None
    _t0: float = 0.0
    _cpu0: float = 0.0
    _wall: float = 0.0
    _cpu_used: float = 0.0

    def merge(self, other: "Monitor") -> None:
        """Join another worker's samples: lag and CPU percentiles over all, CPU per worker."""
        self.lag.extend(other.lag)
        self.cpu.extend(other.cpu)
        self.flight.extend(other.flight)
        self.peak_in_flight += other.peak_in_flight
        self._wall = max(self._wall, other._wall)
        self._cpu_used += other._cpu_used
        self.workers += other.workers

    def started(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def finished(self) -> None:
        self.in_flight -= 1

    def start(self) -> None:
        self._t0, self._cpu0 = time.monotonic(), time.process_time()
        self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._wall = time.monotonic() - self._t0
        self._cpu_used = time.process_time() - self._cpu0

    async def _sample(self) -> None:
        interval = self.interval_s
        last_wall, last_cpu = time.monotonic(), time.process_time()
        while True:
            due = time.monotonic() + interval
            await asyncio.sleep(interval)
            now, cpu = time.monotonic(), time.process_time()
            self.lag.append(max(0.0, now - due))
            self.cpu.append((cpu - last_cpu) / (now - last_wall) if now > last_wall else 0.0)
            self.flight.append(self.in_flight)
            last_wall, last_cpu = now, cpu

    def summary(self) -> dict[str, Any]:
        """Loop lag percentiles, CPU share of one core, in-flight figures, and the verdict."""
        lag = sorted(self.lag)
        cpu = sorted(self.cpu)
        late = sum(1 for x in lag if x > LAG_LIMIT_S)
        out: dict[str, Any] = {
            "samples": len(lag),
            "interval_s": self.interval_s,
            "loop_lag_s": {
                "p50": _q(lag, 0.5), "p90": _q(lag, 0.9), "p99": _q(lag, 0.99),
                "max": round(lag[-1], 6) if lag else None,
                "share_over_limit": round(late / len(lag), 4) if lag else None,
                "limit_s": LAG_LIMIT_S,
            },
            "cpu": {
                "seconds": round(self._cpu_used, 6),
                "wall_s": round(self._wall, 6),
                # per worker: N workers each near one core are each saturated
                "mean_share_of_core": round(self._cpu_used / self._wall / self.workers, 4) if self._wall > 0 else None,
                "p90_share_of_core": _q(cpu, 0.9),
                "cores": os.cpu_count(),
            },
            "in_flight": {
                "peak": self.peak_in_flight,
                "mean": round(sum(self.flight) / len(self.flight), 3) if self.flight else None,
            },
        }
        if self.workers > 1:
            out["workers"] = self.workers
        out["saturated"] = saturation_reasons(out)
        return out


def _q(sorted_values: list[float], q: float) -> float | None:
    return round(percentile(sorted_values, q), 6) if sorted_values else None


def saturation_reasons(runner: dict[str, Any]) -> list[str]:
    """Why the client was the bottleneck (empty when it was not), from a `client.runner` section."""
    if not runner or (runner.get("samples") or 0) < MIN_SAMPLES:
        return []
    if ((runner.get("cpu") or {}).get("wall_s") or 0) < MIN_WALL_S:
        return []
    reasons = []
    lag = runner.get("loop_lag_s") or {}
    share = lag.get("share_over_limit") or 0.0
    if share >= LAG_SHARE_LIMIT:
        reasons.append(f"event-loop lag above {LAG_LIMIT_S * 1000:g} ms in {share:.0%} of samples "
                       f"(p99 {1000 * (lag.get('p99') or 0):.1f} ms)")
    cpu = (runner.get("cpu") or {}).get("mean_share_of_core")
    if cpu is not None and cpu >= CPU_LIMIT:
        reasons.append(f"the client used {cpu:.0%} of one core")
    return reasons


#: What a saturated client may have skewed, named in the warning.
SKEWED = "client TTFT, ITL and latency figures (they include the client's own delay), and the request rate"
