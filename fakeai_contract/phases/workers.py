"""`--workers N`: the traffic sent from N processes, so the client can use every core.

Each worker is a fresh interpreter (not a fork, which would inherit the running event loop) that sends its share of the plan and sends back what it observed: its client statistics
with every sample, its per-request entries and its self-monitoring. The parent merges them
exactly: counts are summed and percentiles are computed from the joined samples, never averaged.

Shares: a counted plan is dealt out by position (request k goes to worker k mod N); concurrency,
rate and max_in_flight are split between the workers; a worker's open-loop schedule is shifted so
the N schedules interleave (constant) or superpose (Poisson: N processes at rate/N are one at rate).
"""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import struct
import sys
from typing import Any, Callable, Iterator

from fakeai_contract.model import Contract, Load
from fakeai_contract.plan import PlannedRequest

_START_TIMEOUT_S = 60.0


def share(load: Load, k: int, n: int) -> Load:
    """Worker K's part of LOAD (of N workers)."""
    def part(total: int) -> int:
        return max(1, total // n + (1 if k < total % n else 0))
    changes: dict[str, Any] = {"concurrency": part(load.concurrency), "seed": load.seed * 1009 + k}
    if load.is_open_loop:
        changes.update(rate=load.rate / n, max_in_flight=part(load.max_in_flight))
    return dataclasses.replace(load, **changes)


def dealt(requests: Iterator[PlannedRequest], k: int, n: int) -> Iterator[PlannedRequest]:
    """Worker K's requests: every Nth, starting at the Kth."""
    return (req for req in requests if (req.seq - 1) % n == k)


#: How often a worker says how many requests it has finished (for the parent's progress line).
PROGRESS_S = 0.2

#: on_progress(k, done, failed, elapsed_s): worker K has finished DONE requests (FAILED of them
#: failed) ELAPSED_S seconds after it started sending.
Progress = Callable[[int, int, int, float], None]


async def run_workers(contract: Contract, n: int, itemize: bool,
                      on_progress: Progress | None = None) -> list[dict[str, Any]]:
    """Run the traffic of CONTRACT in N processes; each one's result, in worker order.

    Plain subprocesses (`python -m fakeai_contract.phases.worker`) talking pickles over their
    pipes: no multiprocessing helper processes outlive the run, and each is killed on interrupt.
    While they send, each reports its counts every PROGRESS_S to ON_PROGRESS.
    """
    portable = dataclasses.replace(contract, schema_store=None)
    procs = []
    try:
        for k in range(n):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "fakeai_contract.phases.worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
            procs.append(proc)
            proc.stdin.write(frame(pickle.dumps((portable, k, n, itemize))))
        # They start sending together, once every one of them is ready.
        await asyncio.wait_for(asyncio.gather(*(_expect(p, READY) for p in procs)), _START_TIMEOUT_S)
        for proc in procs:
            proc.stdin.write(GO)
        outcomes = await asyncio.gather(*(_outcome(p, k, on_progress) for k, p in enumerate(procs)))
        for proc in procs:
            await proc.wait()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    results = []
    for kind, value in outcomes:
        if kind != "ok":
            raise RuntimeError(f"a load worker failed:\n{value}")
        results.append(value)
    return results


READY, GO = b"R", b"G"


def frame(data: bytes) -> bytes:
    return struct.pack("!Q", len(data)) + data


async def _readframe(stream: asyncio.StreamReader) -> bytes:
    try:
        size = struct.unpack("!Q", await stream.readexactly(8))[0]
        return await stream.readexactly(size)
    except asyncio.IncompleteReadError:
        return pickle.dumps(("error", "the worker process ended without a result"))


async def _outcome(proc, k: int, on_progress: Progress | None) -> tuple[str, Any]:
    """Worker K's last frame (its result), passing its progress frames on the way to ON_PROGRESS."""
    while True:
        kind, value = pickle.loads(await _readframe(proc.stdout))
        if kind != "progress":
            return kind, value
        if on_progress is not None:
            on_progress(k, *value)


async def _expect(proc, marker: bytes) -> None:
    got = await proc.stdout.readexactly(len(marker))
    if got != marker:
        raise RuntimeError(f"a load worker answered {got!r} instead of {marker!r}")
