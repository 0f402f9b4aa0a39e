"""Runs a contract's phases in order and is the only writer of the ledger: health → before → load →
settle → after → endpoints and schemas → checks → logs.

Phases return what they found (entries, documents, statistics); the runner appends each phase's
entries as soon as the phase returns them, and the load's request entries as each request finishes,
so an interrupt keeps everything recorded so far.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Iterable, Mapping

from fakeai_contract import document, expr
from fakeai_contract.checks.operators import OPERATORS, Operand
from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.context import RunContext, RunOptions
from fakeai_contract.ledger import Entry, Ledger, SkipReason, Status
from fakeai_contract.model import Contract
from fakeai_contract.plan import uses_auto, with_served_models
from fakeai_contract.phases import endpoints as endpoint_phase
from fakeai_contract.phases.checks import run_checks
from fakeai_contract.phases.health import wait_healthy
from fakeai_contract.phases.logs import check_logs
from fakeai_contract.phases.models import discover
from fakeai_contract.phases.traffic import run_traffic
from fakeai_contract.transport import HttpClient, Transport


def server_vs_client(contract: Contract) -> list[dict[str, str]]:
    """The checks that hold a server figure against a client one, and which side is the server's:
    reports show those two numbers beside each other, and `compare` tracks the server's."""
    out = []
    for check in contract.checks:
        if OPERATORS[check.op].operand is not Operand.EXPRESSION or not isinstance(check.expected, str):
            continue
        try:
            that, other = expr.root_names(check.that), expr.root_names(check.expected)
        except Exception:  # noqa: BLE001 - a check that does not compile is reported by its own entry
            continue
        sides = {"observed": that, "expected": other}
        server = [k for k, names in sides.items() if names - {"vars"} and "client" not in names]
        client = [k for k, names in sides.items() if names == {"client"}]
        if len(server) == 1 and len(client) == 1:
            out.append({"check": check.id, "server": server[0],
                        "server_expr": check.that if server[0] == "observed" else check.expected,
                        "client_expr": check.expected if server[0] == "observed" else check.that})
    return out


def new_ledger(contract: Contract) -> Ledger:
    """An empty ledger for CONTRACT's run."""
    return Ledger(contract=contract.name, target=contract.target.base_url)


def _skipped(ctx: RunContext, reason: str) -> Iterable[Entry]:
    for mix in ctx.contract.load.mix:
        yield Entry(f"load/{mix.name}", "load", f"{mix.name} x{mix.count}", Status.SKIP, message=reason,
                    expected={"requests": mix.count}, tags=("request",), location=ctx.location(mix))
    for name, endpoint in ctx.contract.endpoints.items():
        yield Entry(f"endpoint/{name}", "endpoint", endpoint.path, Status.SKIP, message=reason,
                    tags=("endpoint", name), location=ctx.location(endpoint))
    for check in ctx.contract.checks:
        yield Entry(check.id, "check", check.name, Status.SKIP, message=reason, tags=check.tags,
                    location=ctx.location(check))


def _server_exit(ctx: RunContext) -> Entry | None:
    """A failed entry when the server this run started has exited."""
    server = ctx.options.server
    if server is None:
        return None
    code = server.poll()
    if code is None:
        return None
    from fakeai_contract.lifecycle import describe_exit

    tail = server.tail(10)
    return Entry("server/exit", "health", "Server stayed up during the run", Status.FAIL,
                 observed={"exit_code": code, "log_tail": tail}, expected="running",
                 message=f"the server {describe_exit(code)} during the run; last log lines: "
                         + (" | ".join(tail[-5:]) or "(no output)"))


def _record(ledger: Ledger, entries: Iterable[Entry | None]) -> None:
    for entry in entries:
        if entry is not None:
            ledger.add(entry)


def new_context(contract: Contract, options: RunOptions) -> RunContext:
    """The read-only inputs every phase of CONTRACT's run shares."""
    return RunContext(contract=contract, options=options,
                      schemas=contract.schema_store or SchemaStore(contract.schema_dirs))


async def run_phases(ctx: RunContext, transport: HttpClient, ledger: Ledger) -> Ledger:
    """Run every phase over TRANSPORT, appending to LEDGER as each phase (or request) finishes."""
    contract = ctx.contract
    health = await wait_healthy(ctx, transport)
    ledger.add(health.entry)
    ledger.healthy = health.healthy
    if not health.healthy:
        _record(ledger, _skipped(ctx, SkipReason.SERVER_NEVER_HEALTHY.value))
        ledger.add(check_logs(ctx))
        return ledger
    if uses_auto(contract):
        found = await discover(ctx, transport)
        ledger.add(found.entry)
        if not found.ok:
            # nothing to send to: the load, and the checks that read what it would have done, are skipped
            _record(ledger, _skipped(ctx, f"{SkipReason.NO_MODELS.value}: {found.problem}"))
            ledger.add(check_logs(ctx))
            return ledger
        contract = with_served_models(contract, found.served)
        ctx = dataclasses.replace(ctx, contract=contract)
    before: Mapping[str, Any] = {}
    if contract.endpoints:
        ctx.notify("phase", name="snapshot")
        before = endpoint_phase.documents(await endpoint_phase.snapshot(ctx, transport))
    traffic = await run_traffic(ctx, transport, sink=ledger.add)
    ledger.meta["load"] = traffic.load
    _record(ledger, traffic.entries)
    client = ledger.client = traffic.client
    ledger.timeline = traffic.timeline
    pairs = server_vs_client(contract)
    if pairs:
        ledger.meta["server_vs_client"] = pairs

    def document_for(after: Mapping[str, Any]) -> dict[str, Any]:
        return document.build(after=after, before=before, health=health.document, client=client,
                              variables=contract.vars)

    ctx.notify("phase", name="settle")
    settled = (await endpoint_phase.settle(ctx, transport, document_for) if contract.endpoints
               else endpoint_phase.SettleResult({}))
    _record(ledger, (settled.entry,))
    _record(ledger, endpoint_phase.endpoint_entries(ctx, settled.fetched))
    after = endpoint_phase.documents(settled.fetched)
    latest = dict(settled.fetched)

    async def rebuild(names: list[str]) -> dict[str, Any]:
        fresh = await endpoint_phase.snapshot(ctx, transport, names) if names else {}
        latest.update(fresh)
        after.update(endpoint_phase.documents(fresh))
        return document_for(after)

    def why_final(names: list[str]) -> str:
        return endpoint_phase.unhealable(ctx, latest, names)

    ctx.notify("phase", name="checks")
    _record(ledger, await run_checks(ctx, document_for(after), rebuild, why_final))
    _record(ledger, (_server_exit(ctx),))     # last, so a server that died during any phase has been reaped
    ledger.add(check_logs(ctx))
    return ledger


async def run(contract: Contract, options: RunOptions, ledger: Ledger) -> Ledger:
    """Run CONTRACT against its target, appending to LEDGER as each phase finishes."""
    load = contract.load
    concurrency = max(load.max_in_flight if load.is_open_loop else load.concurrency, len(contract.endpoints), 1)
    async with Transport(contract.target, concurrency=concurrency) as transport:
        return await run_phases(new_context(contract, options), transport, ledger)


def _loop_exception(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    # CPython's selector loop may set a result on a connect future that an interrupt has just
    # cancelled (InvalidStateError in _sock_connect_cb); it is harmless, so it is not printed.
    if isinstance(context.get("exception"), asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)


async def _run_guarded(contract: Contract, options: RunOptions, ledger: Ledger) -> Ledger:
    asyncio.get_running_loop().set_exception_handler(_loop_exception)
    return await run(contract, options, ledger)


def run_sync(contract: Contract, options: RunOptions, ledger: Ledger) -> Ledger:
    """Run in a fresh event loop; KeyboardInterrupt propagates with the ledger kept."""
    try:
        return asyncio.run(_run_guarded(contract, options, ledger))
    finally:
        ledger.finish()
