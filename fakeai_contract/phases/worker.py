"""A `--workers` process: `python -m fakeai_contract.phases.worker`, started by phases.workers."""

from __future__ import annotations

import asyncio
import pickle
import signal
import struct
import sys
import time
from dataclasses import replace
from typing import Any

from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.context import RunContext, RunOptions
from fakeai_contract.ledger import Entry
from fakeai_contract.phases.drive import drive
from fakeai_contract.phases.traffic import TrafficRun   # a worker sends its requests as the phase does
from fakeai_contract.phases.workers import GO, PROGRESS_S, READY, dealt, frame, share
from fakeai_contract.plan import iter_requests, total_requests
from fakeai_contract.transport import Transport


def main() -> None:
    """Read this worker's share, say ready, wait for go, send (saying how far it got every few tenths
    of a second), write back what it observed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the parent stops workers; Ctrl-C is its to handle
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    size = struct.unpack("!Q", stdin.read(8))[0]
    contract, k, n, itemize = pickle.loads(stdin.read(size))

    def ready() -> None:
        stdout.write(READY)
        stdout.flush()
        if stdin.read(1) != GO:
            raise SystemExit(1)

    def progress(done: int, failed: int, elapsed_s: float) -> None:
        stdout.write(frame(pickle.dumps(("progress", (done, failed, elapsed_s)))))
        stdout.flush()
    try:
        outcome = ("ok", asyncio.run(run_share(contract, k, n, itemize, ready, progress)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it as a bug
        import traceback
        outcome = ("error", "".join(traceback.format_exception(exc)))
    stdout.write(frame(pickle.dumps(outcome)))
    stdout.flush()


async def run_share(contract, k: int, n: int, itemize: bool, ready, progress=None) -> dict[str, Any]:
    """Worker K of N: send its share of the traffic; what it observed, to merge in the parent.

    PROGRESS(done, failed, elapsed_s), when given, hears how far it got every PROGRESS_S while it
    sends."""
    whole = contract
    contract = replace(contract, schema_store=SchemaStore(contract.schema_dirs), load=share(contract.load, k, n))
    load = contract.load
    total = total_requests(contract)
    mine = total // n + (1 if k < total % n else 0)
    entries: list[Entry] = []
    async with Transport(contract.target, concurrency=load.max_in_flight if load.is_open_loop else load.concurrency) as transport:
        ctx = RunContext(contract=contract, options=RunOptions(), schemas=contract.schema_store)
        traffic = TrafficRun(ctx, transport, entries.append, itemize=itemize)
        await asyncio.get_running_loop().run_in_executor(None, ready)   # blocks until every worker is
        traffic.t0 = time.monotonic()
        ticker = asyncio.get_running_loop().create_task(_tell(traffic, progress)) if progress else None
        try:
            # dealt from the whole plan: a share's seed is its own, and a shuffled order must be one order
            meta = await drive(load, dealt(iter_requests(whole), k, n), traffic._one, traffic.monitor, mine,
                               phase_s=k / contract.load.rate / n if load.is_open_loop else 0.0)
        finally:
            if ticker is not None:
                ticker.cancel()
        if progress:
            progress(traffic.done, traffic.failed, time.monotonic() - traffic.t0)
    return {"stats": traffic.stats, "tallies": traffic.tallies, "entries": entries,
            "monitor": traffic.monitor, "meta": meta}


async def _tell(traffic: TrafficRun, progress) -> None:
    """Say how far this worker got, every PROGRESS_S, when it changed."""
    last = None
    while True:
        await asyncio.sleep(PROGRESS_S)
        now = (traffic.done, traffic.failed)
        if now != last:
            progress(*now, time.monotonic() - traffic.t0)
            last = now


if __name__ == "__main__":
    main()
