"""An event loop whose timers wake within tens of microseconds, for exact TTFT and ITL.

asyncio waits for its next timer in epoll, whose timeout has whole-millisecond resolution and is
rounded up, so every ``asyncio.sleep`` overshoots by up to a millisecond and a 2 ms inter-token
gap comes out between 2 and 3 ms. This selector waits the whole milliseconds in the kernel as
usual and the last one or two in short ``time.sleep`` steps (nanosleep), polling between them.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from typing import Any, Coroutine, TypeVar

T = TypeVar("T")


#: While waiting out the sub-millisecond rest, readiness is checked this often.
POLL_STEP_S = 0.0002


class PreciseSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector, with timeouts honoured below one millisecond."""

    def select(self, timeout: float | None = None):
        if timeout is None or timeout <= 0:
            return super().select(timeout)
        deadline = time.monotonic() + timeout
        # One millisecond short: the selector rounds up, and float error can add a whole one.
        kernel_ms = math.floor(timeout * 1000) - 1
        if kernel_ms >= 1:
            ready = super().select((kernel_ms - 0.5) / 1000)
            if ready:
                return ready
        while True:
            ready = super().select(0)
            rest = deadline - time.monotonic()
            if ready or rest <= 0:
                return ready
            time.sleep(min(rest, POLL_STEP_S))


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """A selector event loop using PreciseSelector."""
    return asyncio.SelectorEventLoop(PreciseSelector())


def run_precise(main: Coroutine[Any, Any, T]) -> T:
    """Run MAIN to completion on a new precise event loop, then close it as asyncio.run does."""
    loop = precise_event_loop()
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
