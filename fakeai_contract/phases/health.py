"""Health phase: poll the health endpoint until it answers ready, or the timeout passes."""

from __future__ import annotations

import asyncio
import time

from fakeai_contract.context import RunContext
from fakeai_contract.healing import hint, is_final
from fakeai_contract.ledger import Status


def _ready(document) -> bool:
    return not (isinstance(document, dict) and document.get("ready") is False)


async def wait_healthy(ctx: RunContext) -> bool:
    """Poll until healthy; record one ledger entry; return whether the server is healthy."""
    health = ctx.contract.health
    server = ctx.options.server
    t0 = time.monotonic()
    deadline = t0 + health.timeout
    attempts = 0
    last = None
    exited: int | None = None
    ctx.notify("phase", name="health", timeout=health.timeout)
    while True:
        attempts += 1
        remaining = deadline - time.monotonic()
        last = await ctx.transport.fetch(health.path, timeout=max(0.05, min(remaining, ctx.contract.target.request_timeout)))
        ctx.notify("health", url=last.url, attempts=attempts, elapsed_s=time.monotonic() - t0,
                   timeout=health.timeout, last=last.error)
        if last.ok and _ready(last.document):
            break
        if is_final(last.http_status):      # waiting cannot turn a 404 or a 401 into a 200
            break
        if server is not None and (exited := server.poll()) is not None:
            break
        if time.monotonic() + health.interval > deadline:
            break
        await asyncio.sleep(health.interval)
    elapsed = time.monotonic() - t0
    observed = {"http_status": last.http_status, "attempts": attempts, "elapsed_s": round(elapsed, 3),
                "document": last.document}
    expected = {"path": health.path, "timeout_s": health.timeout}
    loc = ctx.location(health)
    if last.ok and _ready(last.document):
        ctx.health = last.document
        problem = None
        if health.schema:
            errors = ctx.schemas.errors(health.schema, last.document)
            if errors:
                problem = f"health document does not match {health.schema}: {errors[0]['path']}: {errors[0]['message']}"
        status = Status.FAIL if problem else Status.PASS
        message = problem or f"server ready after {elapsed:.2f}s ({attempts} attempts)"
        ctx.ledger.record("health", "health", "Server Health Check", status, observed=observed,
                          expected=expected, message=message, duration_s=elapsed, location=loc)
        ctx.ledger.healthy = True
        return True
    if exited is not None:
        tail = server.tail(10)
        observed["exit_code"] = exited
        observed["log_tail"] = tail
        from fakeai_contract.lifecycle import describe_exit
        message = (f"the server {describe_exit(exited)} before it became healthy; last log lines: "
                   + (" | ".join(tail[-5:]) or "(no output)"))
    elif is_final(last.http_status):
        message = (f"{last.url} answered {last.error}; waiting does not change that answer, so the wait "
                   f"stopped after {attempts} attempt{'s' if attempts != 1 else ''}; {hint(last.http_status, last.url)}")
    elif last.ok:
        message = f"the server answered but never reported ready within {health.timeout:g}s ({attempts} attempts)"
    else:
        message = f"not healthy within {health.timeout:g}s ({attempts} attempts); last: {last.error}"
    ctx.ledger.record("health", "health", "Server Health Check", Status.FAIL, observed=observed,
                      expected=expected, message=message, duration_s=elapsed, location=loc)
    ctx.ledger.healthy = False
    return False
