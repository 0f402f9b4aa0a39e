"""`explain`: the resolved plan as text — requests by model and kind, endpoints, checks."""

from __future__ import annotations

import json
from typing import Any

from fakeai_contract import expr
from fakeai_contract.checks.operators import BUCKET, OPERATORS
from fakeai_contract.checks.rules import expressions
from fakeai_contract.model import Check, Contract
from fakeai_contract.prometheus.calls import written_calls
from fakeai_contract.plan import AUTO, AUTO_TEXT, kind_of, models_for, path_of, requests_by_model, total_requests



def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v)


def _rel(path: Any, contract: Contract) -> str:
    text = str(path)
    base = str(contract.source.parent)
    return text[len(base) + 1:] if text.startswith(base + "/") else text


def _prometheus_calls(check: Check) -> list[str]:
    """The check's Prometheus calls in words, each selector written out once."""
    found: list[str] = []
    for text in expressions(check):
        found += (call.describe() for call in written_calls(expr.compile_expression(text).parsed))
    if check.tolerance == BUCKET:
        found.append("tolerance: the width of the bucket the server's quantile falls in")
    return list(dict.fromkeys(found))


def _load_line(contract: Contract) -> str:
    """How the load is paced and how long it lasts, as one line."""
    load = contract.load
    if load.is_open_loop:
        pacing = (f"at {load.rate:g} requests/s ({load.arrival} arrivals"
                  + (f", seed {load.seed}" if load.arrival == "poisson" else "")
                  + f"), at most {load.max_in_flight} in flight")
    else:
        pacing = f"concurrency {load.concurrency}"
    if load.duration is not None:
        size = f"for {load.duration:g}s"
        if load.is_open_loop:
            size += f" (about {round(load.rate * load.duration)} requests)"
        else:
            size += ", as many requests as that allows"
        return f"POST {load.path} {size}, {pacing}{_order(load)}; the mix is cycled"
    return f"{total_requests(contract)} requests to POST {load.path}, {pacing}{_order(load)}"


def _order(load) -> str:
    if load.order == "sequential":
        return ""
    return f", order {load.order}" + (f" (seed {load.seed})" if load.order == "shuffle" else "")


def explain(contract: Contract) -> str:
    """Render CONTRACT's plan after `extends` and variables are resolved."""
    t = contract.target
    out = [f"contract: {contract.name} (format v{contract.version})"]
    if contract.description:
        out.append(f"  {contract.description}")
    if len(contract.files) > 1:
        out.append("merged from: " + " -> ".join(_rel(f, contract) for f in contract.files))
    if contract.removed:
        out.append("removed by overlays:")
        out.extend(f"  {removal}" for removal in contract.removed)
    out.append(f"target: {t.base_url}")
    out.append(f"  request deadline {t.request_timeout:g}s, connect {t.connect_timeout:g}s, "
               f"read {t.read_timeout:g}s, body cap {t.max_body_bytes} bytes, redirects <= {t.max_redirects}")
    for name in sorted(t.headers):
        out.append(f"  header {name}: {t.headers[name]}")
    h = contract.health
    if not h.enabled:
        out.append("health: no wait (health: false)")
    else:
        out.append(f"health: GET {h.path} every {h.interval:g}s for up to {h.timeout:g}s"
                   + (", any 2xx answer" if h.expect == "any-2xx" else "")
                   + (f", schema {h.schema}" if h.schema else ""))
    load = contract.load
    out.append(f"load: {_load_line(contract)}")
    cycled = load.duration is not None
    for mix in load.mix:
        kind = "streaming" if mix.is_streaming else "non-streaming"
        schema = mix.chunk_schema if mix.is_streaming else mix.response_schema
        api = kind_of(path_of(contract, mix))
        kind += "" if api == "chat" else f" {api}"
        if mix.path or mix.method != "POST":
            kind += f" to {mix.method} {path_of(contract, mix)}"
        if cycled:     # no total: each entry's count is its share, its models take turns
            models = [f"{AUTO} ({AUTO_TEXT})" if m == AUTO else m for m in models_for(contract, mix)]
            share = ("every request" if mix.count == total_requests(contract)
                     else f"{mix.count} in every {total_requests(contract)} requests")
            line = (f"  mix {mix.name}: {share}, {kind}, to {', '.join(models)}"
                    + (" in turn" if len(models) > 1 else ""))
        else:
            line = f"  mix {mix.name}: {mix.count} x {kind}"
        out.append(line + (f", each validated against {schema}" if schema else ""))
        for name in sorted(mix.headers):
            out.append(f"    header {name}: {mix.headers[name]}")
    by_model = {} if cycled else {(f"{AUTO} ({AUTO_TEXT})" if m == AUTO else m): row
                                  for m, row in requests_by_model(contract).items()}
    if by_model:
        width = max(len(m) for m in by_model)
        out.append(f"  {'model':<{width}}  non-streaming  streaming")
        for model, row in by_model.items():
            out.append(f"  {model:<{width}}  {row['non_streaming']:>13}  {row['streaming']:>9}")
    if contract.settle:
        s = contract.settle
        out.append(f"settle: poll until {s.until} (every {s.interval:g}s, up to {s.timeout:g}s)")
    out.append(f"endpoints: {len(contract.endpoints)}")
    for name, e in contract.endpoints.items():
        fmt = "" if e.format == "json" else f" [{e.format}]"
        out.append(f"  {name}: GET {e.path}{fmt}" + (f", schema {e.schema}" if e.schema else ""))
    out.append(f"checks: {len(contract.checks)}")
    for c in contract.checks:
        line = f"  [{c.id}] {c.name}: {c.that} {OPERATORS[c.op].words} {_value(c.expected)}"
        if c.tolerance not in (None, 0):
            line += f" (tolerance {c.tolerance})"
        if c.severity != "error":
            line += f" [severity {c.severity}]"
        if c.eventually:
            line += f" [eventually {c.eventually.timeout:g}s every {c.eventually.interval:g}s]"
        if c.tags:
            line += f" tags: {', '.join(c.tags)}"
        out.append(line)
        out.extend(f"      {call}" for call in _prometheus_calls(c))
    logs = contract.logs
    if logs.fail_on:
        out.append("logs: fail on " + ", ".join(f"/{p}/" for p in logs.fail_on)
                   + (("; ignore " + ", ".join(f"/{p}/" for p in logs.ignore)) if logs.ignore else ""))
    if contract.server:
        cmd = contract.server.command
        out.append(f"server (with --serve): {cmd if isinstance(cmd, str) else ' '.join(cmd)}")
    if contract.vars:
        out.append("vars:")
        for name in sorted(contract.vars):
            out.append(f"  {name} = {_value(contract.vars[name])}")
    return "\n".join(out) + "\n"
