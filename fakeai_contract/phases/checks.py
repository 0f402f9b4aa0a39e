"""Checks phase: evaluate every rule; `eventually` rules re-fetch what they read until they hold."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from fakeai_contract.checks.rules import Outcome, evaluate, expressions
from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Entry, SkipReason, Status
from fakeai_contract.model import Check
from fakeai_contract.phases.endpoints import endpoints_read


def selected(check: Check, only: tuple[str, ...], skip: tuple[str, ...]) -> str | None:
    """None if the check runs; otherwise why it is skipped."""
    tags = set(check.tags)
    if only and not tags & set(only):
        return f"{SkipReason.DESELECTED.value}: --only {', '.join(only)}"
    if skip and tags & set(skip):
        return f"{SkipReason.DESELECTED.value}: --skip {', '.join(sorted(tags & set(skip)))}"
    return None


#: endpoint names → why waiting on them cannot help ('' while it may)
WhyFinal = Callable[[list[str]], str]


def _no_final(names: list[str]) -> str:
    return ""


async def run_checks(ctx: RunContext, doc: dict[str, Any],
                     rebuild: Callable[[list[str]], Any], why_final: WhyFinal = _no_final) -> tuple[Entry, ...]:
    """Evaluate every check against DOC: one entry each, in the contract's order.

    REBUILD(names) re-fetches those endpoints and returns a fresh document. Checks with
    `eventually` that do not hold at once are re-checked concurrently, so a run with several
    failing ones waits for the longest timeout, not for their sum. WHY_FINAL(names) says why
    re-fetching those endpoints cannot help (one answered a final status); it ends the wait.
    """
    opts = ctx.options
    known = set(ctx.contract.endpoints)
    t0 = time.monotonic()
    pending = []
    for check in ctx.contract.checks:
        reason = selected(check, opts.only, opts.skip)
        if reason:
            pending.append(_skipped(reason))
        else:
            pending.append(_settled(check, evaluate(check, doc), t0, known, rebuild, why_final))
    results = await asyncio.gather(*pending)
    return tuple(_entry(ctx, check, *result) for check, result in zip(ctx.contract.checks, results))


async def _skipped(reason: str) -> tuple[None, float, str, str]:
    return None, 0.0, reason, ""


async def _settled(check: Check, outcome: Outcome, t0: float, known: set[str],
                   rebuild: Callable[[list[str]], Any], why_final: WhyFinal) -> tuple[Outcome, float, int, str]:
    """Re-check an `eventually` check until it holds, its timeout passes or waiting cannot help."""
    polls, stopped = 1, ""
    if check.eventually and outcome.status is not Status.PASS:
        deadline = t0 + check.eventually.timeout
        names = endpoints_read(list(expressions(check)), known)
        stopped = why_final(names)
        while (outcome.status is not Status.PASS and not stopped
               and time.monotonic() + check.eventually.interval <= deadline):
            await asyncio.sleep(check.eventually.interval)
            outcome = evaluate(check, await rebuild(names))
            polls += 1
            stopped = "" if outcome.status is Status.PASS else why_final(names)
    return outcome, time.monotonic() - t0 if check.eventually else 0.0, polls, stopped


def _entry(ctx: RunContext, check: Check, outcome: Outcome | None, elapsed: float,
           polls: int | str, stopped: str) -> Entry:
    loc = ctx.location(check)
    if outcome is None:     # skipped: POLLS holds the reason
        return Entry(check.id, "check", check.name, Status.SKIP, expected=check.expected,
                     message=polls, tags=check.tags, location=loc)
    message = outcome.message
    if check.eventually:
        verb = "held" if outcome.status is Status.PASS else "still failing"
        message += f" ({verb} after {elapsed:.2f}s, {polls} evaluations)"
        if stopped:
            message += f"; {stopped}"
    return Entry(check.id, "check", check.name, outcome.status, observed=outcome.observed,
                 expected=outcome.expected, message=message, duration_s=elapsed,
                 tags=check.tags, location=loc)
