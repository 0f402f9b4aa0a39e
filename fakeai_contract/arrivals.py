"""Open-loop arrival schedules: when each request is *meant* to be sent, independent of the server.

A closed loop (N workers, the next request when one finishes) lets a slow server slow the arrival
of requests and so hide its own latency (coordinated omission). An open loop sends on a schedule
fixed before the run, and each request's latency is also measured from its intended send time.
"""

from __future__ import annotations

import math
import random
from typing import Iterator

ARRIVALS = ("constant", "poisson")


def intended_offsets(rate: float, arrival: str = "constant", *, count: int | None = None,
                     duration_s: float | None = None, seed: int = 0) -> Iterator[float]:
    """Seconds after the start at which each request is due; stops after COUNT or DURATION_S."""
    if rate <= 0:
        raise ValueError("rate must be > 0")
    if arrival not in ARRIVALS:
        raise ValueError(f"arrival must be one of {', '.join(ARRIVALS)}")
    rng = random.Random(seed)
    t = 0.0
    n = 0
    while True:
        if count is not None and n >= count:
            return
        if duration_s is not None and t >= duration_s:
            return
        yield t
        n += 1
        if arrival == "constant":
            t = n / rate           # no drift from summing a rounded interval
        else:
            t += -math.log(1.0 - rng.random()) / rate
