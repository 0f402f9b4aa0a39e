"""The ledger: every check the run made, append-only during the run, read-only for reporters."""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from fakeai_contract import exit_codes

PHASES = ("health", "load", "endpoint", "schema", "check", "logs")


class Status(str, enum.Enum):
    """Outcome of one ledger entry."""

    PASS = "pass"
    FAIL = "fail"       # the server broke the contract
    ERROR = "error"     # the check could not be evaluated (its input is missing)
    WARN = "warn"       # a severity: warn check that did not hold
    SKIP = "skip"       # not run; the reason is in message

    def __str__(self) -> str:
        return self.value


class SkipReason(str, enum.Enum):
    """Why an entry was not run."""

    SERVER_NEVER_HEALTHY = "the server never became healthy"
    NO_MODELS = "no models to send"
    DESELECTED = "deselected by tag"
    NO_LOG_SOURCE = "no log source: use --serve, --serve-reference or --log-file"


@dataclass(frozen=True)
class Entry:
    """One check the run made."""

    id: str
    phase: str
    name: str
    status: Status
    observed: Any = None
    expected: Any = None
    message: str = ""
    duration_s: float = 0.0
    tags: tuple[str, ...] = ()
    location: str | None = None     # file:line of the contract item, where there is one

    def to_dict(self) -> dict[str, Any]:
        d = {
            "id": self.id, "phase": self.phase, "name": self.name, "status": self.status.value,
            "observed": self.observed, "expected": self.expected, "message": self.message,
            "duration_s": round(self.duration_s, 6), "tags": list(self.tags),
        }
        if self.location:
            d["location"] = self.location
        return d


def verdict_for(pass_rate: float) -> str:
    """PASS (100 %), PARTIAL (>= 90 %), FAIL (< 90 %), as the seed's report."""
    if pass_rate >= 1.0:
        return "PASS"
    return "PARTIAL" if pass_rate >= 0.9 else "FAIL"


#: The summary's counter for each status; a status it does not know (a saved ledger) counts as an error.
SUMMARY_KEY = {Status.PASS.value: "passed", Status.FAIL.value: "failed", Status.ERROR.value: "errors",
               Status.WARN.value: "warned", Status.SKIP.value: "skipped"}


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many of STATUSES fall under each summary counter."""
    counts = dict.fromkeys(SUMMARY_KEY.values(), 0)
    for status in statuses:
        counts[SUMMARY_KEY.get(status, "errors")] += 1
    return counts


def summarize(statuses: Iterable[str], *, healthy: bool | None = None, interrupted: bool = False) -> dict[str, Any]:
    """Counts, pass rate, verdict and exit code of entries with STATUSES: the one rule for a run and
    for a saved ledger. A server never healthy fails the run; an interrupted run is never a PASS."""
    counts = status_counts(statuses)
    total = sum(counts.values())
    counted = total - counts["skipped"]
    bad = counts["failed"] + counts["errors"]
    pass_rate = (counted - bad) / counted if counted else 0.0
    if interrupted:
        # A stopped run proves nothing about the checks that never ran.
        verdict, exit_code = "INTERRUPTED", exit_codes.INTERRUPTED
    else:
        verdict = "FAIL" if healthy is False else verdict_for(pass_rate)
        exit_code = exit_codes.FAILED if bad or healthy is False or not counted else exit_codes.OK
    return {"total": total, **counts, "pass_rate": pass_rate, "verdict": verdict, "exit_code": exit_code}


@dataclass
class Ledger:
    """Append-only record of a run. Phases append; reporters read `view()`."""

    contract: str
    target: str
    started_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds"))
    interrupted: bool = False
    healthy: bool | None = None
    client: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, Any] | None = None      # per-request timing for plots (optional section)
    _entries: list[Entry] = field(default_factory=list)
    _t0: float = field(default_factory=time.monotonic)
    _finished: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entry: Entry) -> Entry:
        with self._lock:
            self._entries.append(entry)
        return entry

    def record(self, id: str, phase: str, name: str, status: Status, **kw: Any) -> Entry:
        """Append an entry built from its fields."""
        return self.add(Entry(id=id, phase=phase, name=name, status=Status(status), **kw))

    def finish(self) -> None:
        if self._finished is None:
            self._finished = time.monotonic()

    @property
    def entries(self) -> tuple[Entry, ...]:
        with self._lock:
            return tuple(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    @property
    def duration_s(self) -> float:
        end = self._finished if self._finished is not None else time.monotonic()
        return end - self._t0

    def summary(self) -> dict[str, Any]:
        """The summary section: counts, pass rate (4 places), verdict and exit code."""
        out = summarize((e.status.value for e in self.entries), healthy=self.healthy, interrupted=self.interrupted)
        out["pass_rate"] = round(out["pass_rate"], 4)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The fixed JSON shape (schemas/ledger.schema.json)."""
        doc = {
            "contract": self.contract, "target": self.target, "started_at": self.started_at,
            "duration_s": round(self.duration_s, 6), "interrupted": self.interrupted,
            "summary": self.summary(), "entries": [e.to_dict() for e in self.entries],
            "client": self.client,
        }
        if self.meta:
            doc["meta"] = self.meta
        if self.timeline is not None:
            doc["timeline"] = self.timeline
        return doc
