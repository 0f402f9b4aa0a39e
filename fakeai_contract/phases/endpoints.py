"""Endpoint phases: snapshot the metrics endpoints, settle, and judge each fetch and its schema."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from fakeai_contract import expr, healing, prometheus
from fakeai_contract.checks.schema import describe_errors
from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Entry, Status
from fakeai_contract.model import Endpoint
from fakeai_contract.transport import Fetched, HttpClient
from fakeai_contract.transport_failures import Failure, Kind

#: 2xx answers in the wrong format: another kind of endpoint, which waiting does not change
_WRONG_FORMAT = (Kind.NOT_JSON, Kind.NOT_PROMETHEUS)

#: after-documents by endpoint name → the evaluation document (the runner knows before/health/client)
DocumentFor = Callable[[Mapping[str, Any]], dict[str, Any]]


def parse_prometheus(text: str, content_type: str | None = None) -> dict[str, Any]:
    """Prometheus or OpenMetrics text → the endpoint's document (see fakeai_contract.prometheus)."""
    return prometheus.parse(text, content_type)


def decode_prometheus(fetched: Fetched) -> Fetched:
    """FETCHED (text) with its Prometheus document, or not ok with why it could not be decoded."""
    try:
        return replace(fetched, document=parse_prometheus(fetched.text or "", fetched.content_type))
    except Exception as exc:  # noqa: BLE001 - a malformed exposition is a finding
        failed = replace(fetched)
        failed.fail(Failure(Kind.NOT_PROMETHEUS, f"not valid Prometheus text exposition: {exc}"))
        return failed


async def fetch_endpoint(transport: HttpClient, endpoint: Endpoint) -> Fetched:
    """Fetch one endpoint and decode it in its format."""
    if endpoint.format == "prometheus":
        fetched = await transport.fetch(endpoint.path, fmt="text")
        return decode_prometheus(fetched) if fetched.ok else fetched
    return await transport.fetch(endpoint.path, fmt="json")


async def snapshot(ctx: RunContext, transport: HttpClient,
                   names: list[str] | None = None) -> dict[str, Fetched]:
    """Fetch the endpoints (all, or NAMES) concurrently."""
    endpoints = [ctx.contract.endpoints[n] for n in (names or ctx.contract.endpoints)]
    results = await asyncio.gather(*(fetch_endpoint(transport, e) for e in endpoints))
    return {e.name: r for e, r in zip(endpoints, results)}


def documents(fetched: Mapping[str, Fetched]) -> dict[str, Any]:
    """The documents of the endpoints that answered."""
    return {name: f.document for name, f in fetched.items() if f.ok}


def endpoints_read(texts: list[str], known: set[str]) -> list[str]:
    """The endpoint names the expressions TEXTS read (all of KNOWN when they read `delta`)."""
    names: set[str] = set()
    for text in texts:
        names |= expr.root_names(text)
    if "delta" in names:
        names |= known            # delta.<x> needs x refreshed; cheap enough to refresh all
    return sorted(names & known)


def unhealable(ctx: RunContext, fetched: Mapping[str, Fetched], names: list[str]) -> str:
    """Why waiting on NAMES cannot help (a final status, a 2xx in the wrong format, none of the declared
    metrics), or '' while it may."""
    for name in names:
        f, endpoint = fetched.get(name), ctx.contract.endpoints[name]
        if f is not None and not f.ok and healing.is_final(f.http_status):
            return (f"stopped waiting: {endpoint.path} answered HTTP {f.http_status}, "
                    "which waiting does not change")
        if f is not None and not f.ok and f.kind in _WRONG_FORMAT:
            return (f"stopped waiting: {endpoint.path} answered HTTP {f.http_status} with no "
                    f"{'Prometheus text' if f.kind is Kind.NOT_PROMETHEUS else 'JSON'}, which waiting does not change")
        if f is not None and f.ok and _exposes_none(endpoint, f):
            # a server that exposes none of the declared metrics after the load is another kind of server
            return f"stopped waiting: {endpoint.path} exposes none of its {len(endpoint.metrics)} declared metrics"
    return ""


def _exposes_none(endpoint: Endpoint, f: Fetched) -> bool:
    declared = endpoint.metrics or ()
    return (endpoint.format == "prometheus" and bool(declared)
            and len(prometheus.missing(f.document, declared)) == len(declared))


@dataclass(frozen=True)
class SettleResult:
    """The last snapshot, and the settle entry when the contract has a `settle:` block."""

    fetched: Mapping[str, Fetched]
    entry: Entry | None = None


async def settle(ctx: RunContext, transport: HttpClient, document_for: DocumentFor) -> SettleResult:
    """Poll the endpoints until `settle.until` holds or its timeout passes; the last snapshot."""
    spec = ctx.contract.settle
    t0 = time.monotonic()
    fetched = await snapshot(ctx, transport)
    if spec is None:
        return SettleResult(fetched)
    polls = 1
    names = endpoints_read([spec.until], set(ctx.contract.endpoints))
    while True:
        try:
            value = expr.search(spec.until, document_for(documents(fetched)))
        except expr.JMESPathError:
            value = None
        held = value is True
        stopped = "" if held else unhealable(ctx, fetched, names)
        if held or stopped or time.monotonic() - t0 + spec.interval > spec.timeout:
            break
        await asyncio.sleep(spec.interval)
        fetched = await snapshot(ctx, transport)
        polls += 1
    if held:
        # The endpoints of one snapshot are read concurrently: one read just before `until` came
        # true may be stale. Once settled, a fresh snapshot sees everything applied.
        fetched = await snapshot(ctx, transport)
    elapsed = time.monotonic() - t0
    entry = Entry(
        "settle", "check", f"Settle: {spec.until}", Status.PASS if held else Status.WARN,
        observed={"held": held, "value": value, "polls": polls, "elapsed_s": round(elapsed, 3)},
        expected={"until": spec.until, "timeout_s": spec.timeout}, duration_s=elapsed,
        message=(f"held after {elapsed:.2f}s ({polls} polls)" if held else
                 f"{stopped} ({polls} polls); checks run on what is there" if stopped else
                 f"did not hold within {spec.timeout:g}s ({polls} polls); checks run on what is there"),
        tags=("settle",), location=ctx.location(spec))
    return SettleResult(fetched, entry)


def _schema_entry(ctx: RunContext, name: str, endpoint: Endpoint, f: Fetched) -> Entry:
    loc = ctx.location(endpoint)
    entry_id, title = f"schema/{name}", f"{endpoint.path} matches {endpoint.schema}"
    if not f.ok:
        return Entry(entry_id, "schema", title, Status.ERROR, expected=endpoint.schema,
                     message=f"cannot validate: {endpoint.path} did not answer ({f.error})",
                     tags=("schema", name), location=loc)
    t0 = time.monotonic()
    errors = ctx.schemas.errors(endpoint.schema, f.document)
    return Entry(
        entry_id, "schema", title, Status.FAIL if errors else Status.PASS,
        observed={"errors": errors} if errors else {"valid": True}, expected=endpoint.schema,
        message=describe_errors(errors, 3) or "",
        duration_s=time.monotonic() - t0, tags=("schema", name), location=loc)


_SHOWN = 3   # how many missing or exposed names a message lists


def _some(names: list[str]) -> str:
    return ", ".join(names[:_SHOWN]) + (", …" if len(names) > _SHOWN else "")


def _declared_entry(ctx: RunContext, name: str, endpoint: Endpoint, f: Fetched) -> Entry:
    """Does the Prometheus endpoint expose every metric its `metrics:` list declares?"""
    loc, declared = ctx.location(endpoint), list(endpoint.metrics or ())
    entry_id, title = f"metrics/{name}", f"{endpoint.path} exposes its {len(declared)} declared metrics"
    if not f.ok:
        return Entry(entry_id, "schema", title, Status.ERROR, expected=declared,
                     message=f"cannot check: {endpoint.path} did not answer ({f.error})",
                     tags=("schema", name), location=loc)
    absent = prometheus.missing(f.document, declared)
    message = ""
    if absent:
        message = f"{len(absent)} of {len(declared)} declared metrics are not exposed: {_some(absent)}"
        if len(absent) == len(declared):   # nothing it declares: most likely another kind of server
            families = sorted(n for n in f.document.get("_families", {}) if not n.endswith("_created"))
            message = (f"none of the {len(declared)} declared metrics is exposed "
                       + (f"(it exposes {len(families)} others: {_some(families)})" if families else "(nor any other)")
                       + f": is this the server the contract was written for? Missing: {_some(absent)}")
    return Entry(entry_id, "schema", title, Status.FAIL if absent else Status.PASS,
                 observed={"missing": absent} if absent else {"exposed": len(declared)}, expected=declared,
                 message=message, tags=("schema", name), location=loc)


def endpoint_entries(ctx: RunContext, fetched: Mapping[str, Fetched]) -> tuple[Entry, ...]:
    """One entry per endpoint (did it answer with a document), then one per schema validation."""
    answered = tuple(
        Entry(f"endpoint/{name}", "endpoint", endpoint.path, Status.PASS if f.ok else Status.FAIL,
              observed={"http_status": f.http_status, "bytes": f.bytes, "content_type": f.content_type},
              expected={"http_status": "2xx", "format": endpoint.format}, message=f.error or "",
              duration_s=f.elapsed_s, tags=("endpoint", name), location=ctx.location(endpoint))
        for name, endpoint in ctx.contract.endpoints.items() for f in (fetched[name],))
    schemas = tuple(_schema_entry(ctx, name, endpoint, fetched[name])
                    for name, endpoint in ctx.contract.endpoints.items() if endpoint.schema)
    declared = tuple(_declared_entry(ctx, name, endpoint, fetched[name])
                     for name, endpoint in ctx.contract.endpoints.items()
                     if endpoint.format == "prometheus" and endpoint.metrics)
    return answered + schemas + declared
