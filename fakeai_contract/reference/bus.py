"""The in-process asynchronous event bus: handlers publish, one consumer task applies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Mapping

logger = logging.getLogger("fakeai_contract.reference")

Handler = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened: its type, when it was published (monotonic) and its data."""

    type: str
    published_at: float
    data: Mapping[str, Any]


class EventBus:
    """An unbounded asyncio queue drained in order by a single consumer task.

    Metrics read from subscribers are therefore eventually consistent, and ``queue_depth``
    (published minus processed) is real. With ``lag`` the consumer applies each event no earlier
    than ``published_at + lag``; waiting on that absolute time keeps lag from accumulating.
    """

    def __init__(self, lag: float = 0.0, clock: Callable[[], float] = time.monotonic,
                 unpublished: frozenset[str] = frozenset()):
        self.lag = lag
        self.unpublished = unpublished     # a fault: these types are dropped before they are published
        self._clock = clock
        self._queue: asyncio.Queue[Event] | None = None
        self._task: asyncio.Task | None = None
        self._subscribers: dict[str, list[Handler]] = defaultdict(list)
        self.published = 0
        self.processed = 0
        self.published_by_type: dict[str, int] = defaultdict(int)

    def subscribe(self, subscriptions: Mapping[str, Handler]) -> None:
        """Register handlers by event type."""
        for event_type, handler in subscriptions.items():
            self._subscribers[event_type].append(handler)

    @property
    def subscriber_count(self) -> int:
        """How many handlers are registered, over all event types."""
        return sum(len(handlers) for handlers in self._subscribers.values())

    @property
    def queue_depth(self) -> int:
        """Events published but not yet applied."""
        return self.published - self.processed

    def publish(self, event_type: str, **data: Any) -> None:
        """Queue an event; never blocks."""
        if event_type in self.unpublished:
            return
        event = Event(event_type, self._clock(), data)
        self.published += 1
        self.published_by_type[event_type] += 1
        if self._queue is None:
            # Not started (unit use): apply at once so the counters still add up.
            self._apply(event)
            return
        self._queue.put_nowait(event)

    def start(self) -> None:
        """Start the consumer on the running loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._consume(), name="fakeai-event-bus")

    async def stop(self) -> None:
        """Cancel the consumer; events still queued are dropped with the process."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _consume(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            if self.lag:
                delay = event.published_at + self.lag - self._clock()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._apply(event)

    def _apply(self, event: Event) -> None:
        for handler in self._subscribers.get(event.type, ()):
            try:
                handler(event)
            except Exception:  # a tracker bug must not stop the bus; it is logged as the bug it is
                logger.exception("event handler failed for %s", event.type)
        self.processed += 1
