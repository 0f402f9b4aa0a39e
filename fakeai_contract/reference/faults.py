"""Fault decisions (injected 500s, dropped streams), reproducible under a seed."""

from __future__ import annotations

import random

#: A dropped stream is cut after this many content chunks (or fewer, if it has fewer tokens).
DROP_AFTER_TOKENS = 3


class InjectedServerError(RuntimeError):
    """The exception behind every 500 that --error-rate injects; logged with --log-errors."""


class Faults:
    """Draws the random decisions; each kind has its own generator, so one does not shift another.

    A generator is consulted only when its rate is strictly between 0 and 1, so with a seed the
    sequence of failures depends only on the order in which requests arrive.
    """

    def __init__(self, error_rate: float = 0.0, drop_stream_rate: float = 0.0, seed: int | None = None):
        self.error_rate = error_rate
        self.drop_stream_rate = drop_stream_rate
        self._error_rng = random.Random(None if seed is None else f"{seed}:error")
        self._drop_rng = random.Random(None if seed is None else f"{seed}:drop")

    @staticmethod
    def _draw(rng: random.Random, rate: float) -> bool:
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        return rng.random() < rate

    def should_fail(self) -> bool:
        """Whether the next chat request is answered 500."""
        return self._draw(self._error_rng, self.error_rate)

    def drop_after(self, token_count: int) -> int | None:
        """How many content chunks the next stream sends before it is cut, or None to finish it."""
        if not self._draw(self._drop_rng, self.drop_stream_rate):
            return None
        return min(DROP_AFTER_TOKENS, token_count)
