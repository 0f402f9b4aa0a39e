"""Runs a contract's phases in order and fills the ledger: health → before → load → settle → after
→ endpoints and schemas → checks → logs."""

from __future__ import annotations

import asyncio
from typing import Any

from fakeai_contract import expr
from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.context import RunContext, RunOptions
from fakeai_contract.ledger import Ledger, SkipReason, Status
from fakeai_contract.model import Contract
from fakeai_contract.phases import endpoints as endpoint_phase
from fakeai_contract.phases.checks import run_checks
from fakeai_contract.phases.health import wait_healthy
from fakeai_contract.phases.traffic import run_traffic
from fakeai_contract.phases.logs import check_logs
from fakeai_contract.transport import Transport


def server_vs_client(contract: Contract) -> list[dict[str, str]]:
    """The checks that hold a server figure against a client one, and which side is the server's:
    reports show those two numbers beside each other, and `compare` tracks the server's."""
    out = []
    for check in contract.checks:
        if check.op not in ("equals", "gt", "ge", "lt", "le") or not isinstance(check.expected, str):
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
    return Ledger(contract=contract.name, target=contract.target.base_url)


def _skip_after_unhealthy(ctx: RunContext) -> None:
    reason = SkipReason.SERVER_NEVER_HEALTHY.value
    record = ctx.ledger.record
    for mix in ctx.contract.load.mix:
        record(f"load/{mix.name}", "load", f"{mix.name} x{mix.count}", Status.SKIP, message=reason,
               tags=("request",), location=ctx.location(mix))
    for name, endpoint in ctx.contract.endpoints.items():
        record(f"endpoint/{name}", "endpoint", endpoint.path, Status.SKIP, message=reason,
               tags=("endpoint", name), location=ctx.location(endpoint))
    for check in ctx.contract.checks:
        record(check.id, "check", check.name, Status.SKIP, message=reason, tags=check.tags,
               location=ctx.location(check))


def _server_exit(ctx: RunContext) -> None:
    server = ctx.options.server
    if server is None:
        return
    code = server.poll()
    if code is not None:
        from fakeai_contract.lifecycle import describe_exit

        tail = server.tail(10)
        ctx.ledger.record("server/exit", "health", "Server stayed up during the run", Status.FAIL,
                          observed={"exit_code": code, "log_tail": tail}, expected="running",
                          message=f"the server {describe_exit(code)} during the run; last log lines: "
                                  + (" | ".join(tail[-5:]) or "(no output)"))


async def run(contract: Contract, options: RunOptions, ledger: Ledger) -> Ledger:
    """Run CONTRACT, appending to LEDGER as each phase finishes (so an interrupt keeps the rest)."""
    load = contract.load
    concurrency = max(load.max_in_flight if load.is_open_loop else load.concurrency, len(contract.endpoints), 1)
    async with Transport(contract.target, concurrency=concurrency) as transport:
        ctx = RunContext(contract=contract, options=options, ledger=ledger, transport=transport,
                         schemas=contract.schema_store or SchemaStore(contract.schema_dirs))
        if not await wait_healthy(ctx):
            _skip_after_unhealthy(ctx)
            check_logs(ctx)
            return ledger
        if contract.endpoints:
            ctx.notify("phase", name="snapshot")
            ctx.before = endpoint_phase.documents(await endpoint_phase.snapshot(ctx))
        stats = await run_traffic(ctx)
        client = stats.to_dict()
        if "runner" in ledger.meta:
            client["runner"] = ledger.meta.pop("runner")
        if "load" in ledger.meta:
            client["load"] = ledger.meta["load"]      # the achieved pacing, checkable by contracts
        ledger.client = client
        ledger.timeline = stats.timeline_dict()
        pairs = server_vs_client(contract)
        if pairs:
            ledger.meta["server_vs_client"] = pairs
        ctx.notify("phase", name="settle")
        fetched = await endpoint_phase.settle(ctx, client) if contract.endpoints else {}
        endpoint_phase.record_endpoints(ctx, fetched)
        after = endpoint_phase.documents(fetched)
        doc = endpoint_phase.evaluation_document(ctx, after, client)

        async def rebuild(names: list[str]) -> dict[str, Any]:
            fresh = await endpoint_phase.snapshot(ctx, names) if names else {}
            after.update(endpoint_phase.documents(fresh))
            return endpoint_phase.evaluation_document(ctx, after, client)

        ctx.notify("phase", name="checks")
        await run_checks(ctx, doc, rebuild)
        _server_exit(ctx)       # last, so a server that died during any phase has been reaped
        check_logs(ctx)
    return ledger


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
