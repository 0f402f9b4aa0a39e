"""Endpoint phases: snapshot the metrics endpoints, settle, record fetches and schema results."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fakeai_contract import document, expr, prometheus
from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Status
from fakeai_contract.model import Endpoint
from fakeai_contract.transport import Fetched


def parse_prometheus(text: str, content_type: str | None = None) -> dict[str, Any]:
    """Prometheus or OpenMetrics text → the endpoint's document (see fakeai_contract.prometheus)."""
    return prometheus.parse(text, content_type)


def _decode(endpoint: Endpoint, fetched: Fetched) -> Fetched:
    if fetched.ok and endpoint.format == "prometheus":
        try:
            fetched.document = parse_prometheus(fetched.text or "", fetched.content_type)
        except ImportError:
            fetched.ok = False
            fetched.error = "format: prometheus needs the prometheus extra: pip install 'fakeai-contract[prometheus]'"
        except Exception as exc:  # noqa: BLE001 - a malformed exposition is a finding
            fetched.ok = False
            fetched.error = f"not valid Prometheus text exposition: {exc}"
    return fetched


async def fetch_endpoint(ctx: RunContext, endpoint: Endpoint) -> Fetched:
    fmt = "text" if endpoint.format == "prometheus" else "json"
    return _decode(endpoint, await ctx.transport.fetch(endpoint.path, fmt=fmt))


async def snapshot(ctx: RunContext, names: list[str] | None = None) -> dict[str, Fetched]:
    """Fetch the endpoints (all, or NAMES) concurrently."""
    endpoints = [ctx.contract.endpoints[n] for n in (names or ctx.contract.endpoints)]
    results = await asyncio.gather(*(fetch_endpoint(ctx, e) for e in endpoints))
    return {e.name: r for e, r in zip(endpoints, results)}


def documents(fetched: dict[str, Fetched]) -> dict[str, Any]:
    """The documents of the endpoints that answered."""
    return {name: f.document for name, f in fetched.items() if f.ok}


def evaluation_document(ctx: RunContext, after_docs: dict[str, Any], client: dict[str, Any]) -> dict[str, Any]:
    return document.build(after=after_docs, before=ctx.before, health=ctx.health, client=client,
                          variables=ctx.contract.vars)


async def settle(ctx: RunContext, client: dict[str, Any]) -> dict[str, Fetched]:
    """Poll the endpoints until `settle.until` holds or its timeout passes; return the last snapshot."""
    spec = ctx.contract.settle
    t0 = time.monotonic()
    fetched = await snapshot(ctx)
    if spec is None:
        return fetched
    polls = 1
    held = False
    value = None
    while True:
        doc = evaluation_document(ctx, documents(fetched), client)
        try:
            value = expr.search(spec.until, doc)
        except expr.JMESPathError:
            value = None
        held = value is True
        if held or time.monotonic() - t0 + spec.interval > spec.timeout:
            break
        await asyncio.sleep(spec.interval)
        fetched = await snapshot(ctx)
        polls += 1
    if held:
        # The endpoints of one snapshot are read concurrently: one read just before `until` came
        # true may be stale. Once settled, a fresh snapshot sees everything applied.
        fetched = await snapshot(ctx)
    elapsed = time.monotonic() - t0
    ctx.ledger.record(
        "settle", "check", f"Settle: {spec.until}", Status.PASS if held else Status.WARN,
        observed={"held": held, "value": value, "polls": polls, "elapsed_s": round(elapsed, 3)},
        expected={"until": spec.until, "timeout_s": spec.timeout}, duration_s=elapsed,
        message=(f"held after {elapsed:.2f}s ({polls} polls)" if held else
                 f"did not hold within {spec.timeout:g}s ({polls} polls); checks run on what is there"),
        tags=("settle",), location=ctx.location(spec))
    return fetched


def record_endpoints(ctx: RunContext, fetched: dict[str, Fetched]) -> None:
    """One entry per endpoint (did it answer with a document) and one per schema validation."""
    for name, endpoint in ctx.contract.endpoints.items():
        f = fetched[name]
        loc = ctx.location(endpoint)
        ctx.ledger.record(
            f"endpoint/{name}", "endpoint", endpoint.path, Status.PASS if f.ok else Status.FAIL,
            observed={"http_status": f.http_status, "bytes": f.bytes, "content_type": f.content_type},
            expected={"http_status": "2xx", "format": endpoint.format}, message=f.error or "",
            duration_s=f.elapsed_s, tags=("endpoint", name), location=loc)
    for name, endpoint in ctx.contract.endpoints.items():
        if not endpoint.schema:
            continue
        f = fetched[name]
        loc = ctx.location(endpoint)
        entry_id, title = f"schema/{name}", f"{endpoint.path} matches {endpoint.schema}"
        if not f.ok:
            ctx.ledger.record(entry_id, "schema", title, Status.ERROR, expected=endpoint.schema,
                              message=f"cannot validate: {endpoint.path} did not answer ({f.error})",
                              tags=("schema", name), location=loc)
            continue
        t0 = time.monotonic()
        errors = ctx.schemas.errors(endpoint.schema, f.document)
        ctx.ledger.record(
            entry_id, "schema", title, Status.FAIL if errors else Status.PASS,
            observed={"errors": errors} if errors else {"valid": True}, expected=endpoint.schema,
            message="; ".join(f"{e['path']}: {e['message']}" for e in errors[:3]),
            duration_s=time.monotonic() - t0, tags=("schema", name), location=loc)
