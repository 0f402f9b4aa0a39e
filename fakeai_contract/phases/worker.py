"""A `--workers` process: `python -m fakeai_contract.phases.worker`, started by phases.workers."""

from __future__ import annotations

import asyncio
import pickle
import signal
import struct
import sys

from fakeai_contract.phases.traffic import run_share
from fakeai_contract.phases.workers import GO, READY, frame


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


if __name__ == "__main__":
    main()
