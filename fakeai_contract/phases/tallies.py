"""Per-response checks of the load, counted per mix entry: schema, model echo, usage adding up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakeai_contract.ledger import Entry, Status

FIRST = 5   # how many individual problems an aggregated entry keeps


@dataclass
class Tally:
    """Per-check counters with the first few problems kept as evidence."""

    checked: int = 0
    bad: int = 0
    missing: int = 0
    first: list[dict] = field(default_factory=list)

    def add(self, seq: int, problem: str | None) -> None:
        self.checked += 1
        if problem:
            self.bad += 1
            if len(self.first) < FIRST:
                self.first.append({"request": seq, "problem": problem})

    def merge(self, other: "Tally") -> None:
        self.checked += other.checked
        self.bad += other.bad
        self.missing += other.missing
        self.first = sorted(self.first + other.first, key=lambda p: p["request"])[:FIRST]


@dataclass
class MixTallies:
    """What one mix entry's responses showed: the schema, model and usage checks, and outcomes per model."""

    schema: Tally = field(default_factory=Tally)
    model: Tally = field(default_factory=Tally)
    usage: Tally = field(default_factory=Tally)
    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merge(self, other: "MixTallies") -> None:
        self.schema.merge(other.schema)
        self.model.merge(other.model)
        self.usage.merge(other.usage)
        for model, theirs in other.by_model.items():
            mine = self.by_model.setdefault(model, {"total": 0, "succeeded": 0, "failed": 0, "first_failures": []})
            for key in ("total", "succeeded", "failed"):
                mine[key] += theirs[key]
            mine["first_failures"] = sorted(mine["first_failures"] + theirs["first_failures"],
                                            key=lambda f: f["index"])[:FIRST]


def usage_problem(usage: Any, kind: str = "chat") -> str | None:
    """Why a response's usage does not add up (KIND embeddings: no completion tokens), or None."""
    if not isinstance(usage, dict):
        return "usage is not an object"
    p, c, t = (usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens"))
    if kind == "embeddings" and "completion_tokens" not in usage:
        # an embeddings usage is {prompt_tokens, total_tokens}: nothing is generated
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (p, t)):
            return f"usage has non-integer counts: {usage}"
        return None if p == t else f"total_tokens {t} != prompt_tokens {p}"
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (p, c, t)):
        return f"usage has non-integer counts: {usage}"
    if p + c != t:
        return f"total_tokens {t} != prompt_tokens {p} + completion_tokens {c}"
    return None


def model_problem(requested: str, answered: Any) -> str | None:
    """Why an answer does not name the model asked for, or None."""
    if answered == requested:
        return None
    return f"asked for {requested!r}, the answer names {answered!r}"


def tally_entry(id: str, phase: str, name: str, t: Tally, loc, tags, noun: str) -> Entry:
    """The aggregated entry of one per-response check: pass, fail with the first problems, or skip."""
    observed = {"checked": t.checked, "bad": t.bad, "first_problems": t.first}
    if t.missing:
        observed["missing"] = t.missing
    if not t.checked:
        status, message = Status.SKIP, f"no {noun} to check"
    elif t.bad:
        status = Status.FAIL
        message = f"{t.bad} of {t.checked} {noun} fail: request {t.first[0]['request']}: {t.first[0]['problem']}"
    else:
        status, message = Status.PASS, f"{t.checked} {noun} checked"
    return Entry(id, phase, name, status, observed=observed, expected={"bad": 0},
                 message=message, tags=tags, location=loc)
