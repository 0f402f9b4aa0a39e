"""Health phase: poll the health endpoint until it answers ready, or the timeout passes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from fakeai_contract.checks.schema import describe_errors
from fakeai_contract.context import RunContext
from fakeai_contract.errors import amount
from fakeai_contract.healing import hint, is_final
from fakeai_contract.ledger import Entry, Status
from fakeai_contract.transport import Fetched, HttpClient, strict_json

NAME = "Server Health Check"


@dataclass(frozen=True)
class HealthResult:
    """The health entry, whether the server became healthy, and the document it answered."""

    entry: Entry
    healthy: bool
    document: Any = None


@dataclass(frozen=True)
class _Polled:
    last: Fetched
    attempts: int
    elapsed_s: float
    exited: int | None      # the exit code of a started server that died while we waited
    answered: tuple[int, Fetched] | None = None     # the latest attempt the server answered, and its number


def _ready(document) -> bool:
    return not (isinstance(document, dict) and document.get("ready") is False)


def _is_ready(fetched: Fetched) -> bool:
    return fetched.ok and _ready(fetched.document)


def _json_or_none(text: str | None):
    try:
        return strict_json(text) if text and text.strip() else None
    except (ValueError, RecursionError):
        return None


async def _poll_json(transport: HttpClient, path: str, timeout: float) -> Fetched:
    return await transport.fetch(path, timeout=timeout)


async def _poll_any_2xx(transport: HttpClient, path: str, timeout: float) -> Fetched:
    """Any 2xx is healthy: the body is read as text, and kept as JSON where it is JSON."""
    res = await transport.fetch(path, fmt="text", timeout=timeout)
    return replace(res, document=_json_or_none(res.text)) if res.ok else res


#: health.expect → how one poll fetches and decodes the answer.
POLLERS = {"json": _poll_json, "any-2xx": _poll_any_2xx}


async def _poll(ctx: RunContext, transport: HttpClient) -> _Polled:
    """Fetch the health path every interval until it is ready, the server exits, or time runs out."""
    health = ctx.contract.health
    server = ctx.options.server
    t0 = time.monotonic()
    deadline = t0 + health.timeout
    attempts = 0
    exited: int | None = None
    answered: tuple[int, Fetched] | None = None
    while True:
        attempts += 1
        remaining = deadline - time.monotonic()
        timeout = max(0.05, min(remaining, ctx.contract.target.request_timeout))
        last = await POLLERS[health.expect](transport, health.path, timeout)
        if last.http_status is not None:
            answered = (attempts, last)
        ctx.notify("health", url=last.url, attempts=attempts, elapsed_s=time.monotonic() - t0,
                   timeout=health.timeout, last=last.error)
        if _is_ready(last):
            break
        if is_final(last.http_status):      # waiting cannot turn a 404 or a 401 into a 200
            break
        if server is not None and (exited := server.poll()) is not None:
            break
        if time.monotonic() + health.interval > deadline:
            break
        await asyncio.sleep(health.interval)
    return _Polled(last, attempts, time.monotonic() - t0, exited, answered)


def _unhealthy(ctx: RunContext, polled: _Polled) -> tuple[str, dict[str, Any]]:
    """Why the server is not healthy, and what to add to the observed value as evidence."""
    health = ctx.contract.health
    if polled.exited is not None:
        from fakeai_contract.lifecycle import describe_exit

        tail = ctx.options.server.tail(10)
        return (f"the server {describe_exit(polled.exited)} before it became healthy; last log lines: "
                + (" | ".join(tail[-5:]) or "(no output)")), {"exit_code": polled.exited, "log_tail": tail}
    last, attempts = polled.last, polled.attempts
    if is_final(last.http_status):
        return (f"{last.url} answered {last.error}; waiting does not change that answer, so the wait "
                f"stopped after {amount(attempts, 'attempt')}; "
                f"{hint(last.http_status, last.url)}"), {}
    if polled.last.ok:
        return (f"the server answered but never reported ready within {health.timeout:g}s "
                f"({polled.attempts} attempts)"), {}
    # A last attempt cut short by the wait's own deadline says less than what the server last answered.
    earlier = (f"; attempt {polled.answered[0]} was answered {polled.answered[1].error}"
               if polled.answered and polled.answered[1] is not last else "")
    return (f"not healthy within {health.timeout:g}s ({polled.attempts} attempts); "
            f"last: {polled.last.error}{earlier}"), {}


def _schema_problem(ctx: RunContext, document: Any) -> str | None:
    health = ctx.contract.health
    schema = health.schema
    if not schema:
        return None
    if document is None and health.expect == "any-2xx":
        return f"health answered without a JSON body, so {schema} cannot apply"
    problem = describe_errors(ctx.schemas.errors(schema, document))
    return f"health document does not match {schema}: {problem}" if problem else None


def judge(ctx: RunContext, polled: _Polled) -> HealthResult:
    """The health entry for what the poll saw."""
    health, last = ctx.contract.health, polled.last
    observed = {"http_status": last.http_status, "attempts": polled.attempts,
                "elapsed_s": round(polled.elapsed_s, 3), "document": last.document}
    fields = dict(expected={"path": health.path, "timeout_s": health.timeout, "expect": health.expect},
                  duration_s=polled.elapsed_s, location=ctx.location(health))
    if _is_ready(last):
        problem = _schema_problem(ctx, last.document)
        message = problem or f"server ready after {polled.elapsed_s:.2f}s ({polled.attempts} attempts)"
        entry = Entry("health", "health", NAME, Status.FAIL if problem else Status.PASS,
                      observed=observed, message=message, **fields)
        return HealthResult(entry, healthy=True, document=last.document)
    message, evidence = _unhealthy(ctx, polled)
    return HealthResult(Entry("health", "health", NAME, Status.FAIL, observed={**observed, **evidence},
                              message=message, **fields), healthy=False)


async def wait_healthy(ctx: RunContext, transport: HttpClient) -> HealthResult:
    """Poll until healthy or the timeout; the one health entry and the health document."""
    health = ctx.contract.health
    if not health.enabled:
        return HealthResult(Entry("health", "health", NAME, Status.SKIP, expected={"health": False},
                                  location=ctx.location(health),
                                  message="no health wait: the contract sets health: false"), healthy=True)
    ctx.notify("phase", name="health", timeout=ctx.contract.health.timeout)
    return judge(ctx, await _poll(ctx, transport))
