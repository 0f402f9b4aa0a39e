"""How the traffic is paced: closed loop (N workers) or open loop (a schedule), by count or duration.

The traffic phase says what one request is (`send`); this module only decides when each is sent.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Iterator

from fakeai_contract.arrivals import intended_offsets
from fakeai_contract.model import Load
from fakeai_contract.monitor import Monitor
from fakeai_contract.plan import PlannedRequest

#: send(request, send_delay_s): SEND_DELAY_S is how late it left against its intended time
#: (None in a closed loop, which has no intended times).
Send = Callable[[PlannedRequest, "float | None"], Awaitable[None]]


async def drive(load: Load, requests: Iterator[PlannedRequest], send: Send, monitor: Monitor,
                total: int, phase_s: float = 0.0) -> dict[str, Any]:
    """Send REQUESTS as LOAD paces them; return what the pacing achieved (the ledger's meta.load).

    PHASE_S shifts an open-loop schedule (so the schedules of several workers interleave).
    """
    monitor.start()
    t0 = time.monotonic()
    try:
        if load.is_open_loop:
            sent = await _open_loop(load, requests, send, monitor, t0 + phase_s, total)
        else:
            sent = await _closed_loop(load, requests, send, monitor, t0, total)
    finally:
        await monitor.stop()
    wall = time.monotonic() - t0
    out: dict[str, Any] = {"mode": "open" if load.is_open_loop else "closed", "requests": sent,
                           "wall_s": round(wall, 6),
                           "requests_per_second": round(sent / wall, 3) if wall > 0 else None}
    if load.is_open_loop:
        out.update(requested_rate=load.rate, arrival=load.arrival, max_in_flight=load.max_in_flight)
    else:
        out["concurrency"] = _workers(load, total)
    if load.duration is not None:
        out["duration_s"] = load.duration
    return out


def _workers(load: Load, total: int) -> int:
    return max(1, load.concurrency if load.duration is not None else min(load.concurrency, total or 1))


async def _closed_loop(load: Load, requests: Iterator[PlannedRequest], send: Send, monitor: Monitor,
                       t0: float, total: int) -> int:
    deadline = None if load.duration is None else t0 + load.duration
    sent = 0

    async def worker() -> None:
        nonlocal sent
        for req in requests:      # a shared iterator: each request is taken by exactly one worker
            if deadline is not None and time.monotonic() >= deadline:
                return
            sent += 1
            monitor.started()
            try:
                await send(req, None)
            finally:
                monitor.finished()

    await asyncio.gather(*(worker() for _ in range(_workers(load, total))))
    return sent


async def _open_loop(load: Load, requests: Iterator[PlannedRequest], send: Send, monitor: Monitor,
                     t0: float, total: int) -> int:
    count = None if load.duration is not None else total
    schedule = intended_offsets(load.rate, load.arrival, count=count, duration_s=load.duration, seed=load.seed)
    slots = asyncio.Semaphore(load.max_in_flight)
    running: set[asyncio.Task] = set()
    failure: list[BaseException] = []
    sent = 0

    async def one(req: PlannedRequest, delay: float) -> None:
        try:
            await send(req, delay)
        finally:
            monitor.finished()
            slots.release()

    def done(task: asyncio.Task) -> None:
        running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            failure.append(task.exception())

    try:
        for offset, req in zip(schedule, requests):
            due = t0 + offset
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            await slots.acquire()          # at the limit: this request leaves late, and says so
            if failure:
                raise failure[0]
            monitor.started()
            task = asyncio.get_running_loop().create_task(one(req, max(0.0, time.monotonic() - due)))
            running.add(task)
            task.add_done_callback(done)
            sent += 1
        if running:
            await asyncio.gather(*running)
    finally:
        for task in running:
            task.cancel()
    return sent
