"""Traffic phase: send the request mix with bounded concurrency; judge what the client observed.

Each finished request's entry goes to the runner's sink at once (so an interrupted run keeps the
requests that finished); the aggregated entries and the client's statistics are returned at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from fakeai_contract.checks.schema import describe_errors
from fakeai_contract.client_stats import ClientStats
from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Entry, Status
from fakeai_contract.model import MixEntry
from fakeai_contract.monitor import SKEWED, Monitor
from fakeai_contract.phases.drive import drive
from fakeai_contract.phases.tallies import FIRST, MixTallies, model_problem, tally_entry, usage_problem
from fakeai_contract.phases.workers import run_workers
from fakeai_contract.plan import (PlannedRequest, iter_requests, kind_of, models_for, path_of, planned_models,
                                  total_requests)
from fakeai_contract.transport import HttpClient

@dataclass(frozen=True)
class TrafficResult:
    """What the load phase observed: the ledger's client section (with `runner` and `load`), the
    achieved pacing (meta.load), the timeline section, and the aggregated entries."""

    client: dict[str, Any]
    load: dict[str, Any]
    timeline: dict[str, Any]
    entries: tuple[Entry, ...]


class TrafficRun:
    """One process's share of the traffic: sends it, tallies it, and reports it (the phase and each worker)."""

    def __init__(self, ctx: RunContext, transport: HttpClient | None, sink: Callable[[Entry], None],
                 itemize: bool | None = None):
        self.ctx = ctx
        self.transport = transport
        self.sink = sink
        self.contract = ctx.contract
        self.stats = ClientStats()
        self.total = total_requests(self.contract)
        # A duration run has no known total: its requests are always aggregated, so it stays bounded.
        self.itemize = itemize if itemize is not None else self.contract.load.duration is None and (
            ctx.options.verbose or self.total <= self.contract.load.itemize)
        self.monitor = Monitor()
        self.tallies: dict[str, MixTallies] = {m.name: MixTallies() for m in self.contract.load.mix}
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()

    async def run(self) -> TrafficResult:
        load = self.contract.load
        self.ctx.notify("phase", name="load", total=self.total, duration_s=load.duration, rate=load.rate)
        self.t0 = time.monotonic()
        workers = self.ctx.options.workers
        if workers > 1:
            paced = await self._from_workers(workers)
        else:
            paced = await drive(load, iter_requests(self.contract), self._one, self.monitor, self.total)
        runner = self.monitor.summary()
        # the achieved pacing and the client's own health are checkable by contracts
        client = {**self.stats.to_dict(), "models": planned_models(self.contract), "runner": runner, "load": paced}
        entries = (*self._aggregates(), *self._saturation(runner))
        return TrafficResult(client, paced, self.stats.timeline_dict(), entries)

    async def _from_workers(self, n: int) -> dict[str, Any]:
        """Send the traffic from N processes and merge what they observed, exactly."""
        counts = [(0, 0, 0.0)] * n
        of = 0 if self.contract.load.duration is not None else self.total

        def progress(k: int, done: int, failed: int, elapsed_s: float) -> None:
            # elapsed from the workers' start of sending: their interpreters' start-up is not load
            counts[k] = (done, failed, elapsed_s)
            self.ctx.notify("request", done=sum(c[0] for c in counts), of=of, failed=sum(c[1] for c in counts),
                            elapsed_s=max(c[2] for c in counts), workers=n)
        results = await run_workers(self.contract, n, self.itemize, progress)
        entries = []
        for i, r in enumerate(results):
            self.stats.merge(r["stats"])
            for name, tallies in r["tallies"].items():
                self.tallies[name].merge(tallies)
            if i == 0:
                self.monitor = r["monitor"]
            else:
                self.monitor.merge(r["monitor"])
            entries += r["entries"]
        for entry in sorted(entries, key=lambda e: e.observed["index"]):
            self.sink(entry)
        self.done = self.stats.total
        metas = [r["meta"] for r in results]
        wall = max(m["wall_s"] for m in metas)
        meta = {**metas[0], "requests": self.done, "wall_s": wall, "workers": n,
                "requests_per_second": round(self.done / wall, 3) if wall > 0 else None}
        for key in ("requested_rate", "max_in_flight", "concurrency"):
            if key in meta:
                meta[key] = self.contract.load.rate if key == "requested_rate" else sum(m[key] for m in metas)
        return meta

    def _saturation(self, runner: dict[str, Any]):
        if runner["saturated"]:
            yield Entry(
                "client/saturation", "load", "The client kept up with the load", Status.WARN,
                observed=runner, expected={"loop_lag_s": "<= limit in most samples", "cpu": "below one core"},
                message="the client itself was the bottleneck: " + "; ".join(runner["saturated"])
                        + f"; this may have skewed the {SKEWED}", tags=("client",))

    async def _one(self, req: PlannedRequest, send_delay: float | None = None) -> None:
        ctx, mix = self.ctx, req.mix
        body = req.body()
        tallies = self.tallies[mix.name]
        path, api = req.path, req.kind
        headers = mix.headers or None
        start_s = time.monotonic() - self.t0
        sample = {"seq": req.seq, "start_s": start_s, "path": path, "kind": api}
        if req.is_streaming:
            on_chunk = self._chunk_validator(mix)
            res = await self.transport.stream(path, body, on_chunk=on_chunk, method=mix.method, headers=headers)
            ok, message, latency = res.ok, res.error, res.elapsed_s
            observed = {"chunks": res.chunks, "done": res.done, "finish_reason": res.finish_reason,
                        "ttft_s": None if res.ttft_s is None else round(res.ttft_s, 6)}
            if res.http_status is not None and res.http_status < 400 and res.chunks:
                if on_chunk is not None:
                    tallies.schema.add(req.seq, "; ".join(res.invalid_chunks[:2]) or None if res.invalid_chunk_count else None)
                tallies.model.add(req.seq, model_problem(req.model, res.model))
            usage = res.usage
            if res.usage is not None:
                tallies.usage.add(req.seq, usage_problem(res.usage, api))
            self.stats.add(model=req.model, stream=True, ok=ok, latency_s=latency, ttft_s=res.ttft_s,
                           itl_s=res.itl_s, chunks=res.chunks, done=res.done, usage=usage,
                           http_status=res.http_status, send_delay_s=send_delay, **sample)
            status = res.http_status
        else:
            res = await self.transport.fetch(path, method=mix.method, body=body, headers=headers)
            doc = res.document
            ok, message, latency = res.ok and isinstance(doc, dict), res.error, res.elapsed_s
            if res.ok and not isinstance(doc, dict):
                message = f"HTTP {res.http_status}: the answer is JSON but not an object"
            observed = {"chunks": None, "done": None}
            usage = None
            if ok:
                if mix.response_schema:
                    errors = ctx.schemas.errors(mix.response_schema, doc)
                    tallies.schema.add(req.seq, describe_errors(errors))
                tallies.model.add(req.seq, model_problem(req.model, doc.get("model")))
                usage = doc.get("usage")
                if usage is None:
                    tallies.usage.missing += 1
                else:
                    tallies.usage.add(req.seq, usage_problem(usage, api))
                if isinstance(usage, dict):
                    observed["completion_tokens"] = usage.get("completion_tokens")
            self.stats.add(model=req.model, stream=False, ok=ok, latency_s=latency, usage=usage,
                           http_status=res.http_status, send_delay_s=send_delay, **sample)
            status = res.http_status
        self.done += 1
        self.failed += 0 if ok else 1
        agg = tallies.by_model.setdefault(req.model, {"total": 0, "succeeded": 0, "failed": 0, "first_failures": []})
        agg["total"] += 1
        if ok:
            agg["succeeded"] += 1
        else:
            agg["failed"] += 1
            if len(agg["first_failures"]) < FIRST:
                agg["first_failures"].append({"index": req.seq, "message": message})
        ctx.notify("request", seq=req.seq, of=req.of, model=req.model, stream=req.is_streaming, ok=ok,
                   latency_s=latency, message=message, done=self.done, failed=self.failed,
                   elapsed_s=time.monotonic() - self.t0)
        if self.itemize:
            kind = "streaming" if req.is_streaming else "non-streaming"
            observed = {"index": req.seq, "of": req.of, "model": req.model, "stream": req.is_streaming,
                        "http_status": status, "latency_s": round(latency, 6), **observed}
            if mix.path or mix.method != "POST":
                observed.update(method=mix.method, path=path)
            if send_delay is not None:
                observed["send_delay_s"] = round(send_delay, 6)
                observed["intended_latency_s"] = round(send_delay + latency, 6)
            self.sink(Entry(
                f"load/{mix.name}/{req.n}", "load", f"{req.model} {_label(api, kind)} #{req.n}",
                Status.PASS if ok else Status.FAIL, observed=observed,
                expected={"http_status": "2xx", "stream_complete": req.is_streaming or None},
                message=message or "", duration_s=latency, tags=("request", kind),
                location=ctx.location(mix)))

    def _chunk_validator(self, mix: MixEntry):
        if not mix.chunk_schema:
            return None
        schemas, name = self.ctx.schemas, mix.chunk_schema

        def check(chunk: dict) -> str | None:
            return describe_errors(schemas.errors(name, chunk))
        return check

    def _aggregates(self):
        """The per-model entries (when requests are not itemized) and the response checks."""
        ctx = self.ctx
        for mix in self.contract.load.mix:
            t = self.tallies[mix.name]
            kind = "streaming" if mix.is_streaming else "non-streaming"
            loc = ctx.location(mix)
            label = _label(kind_of(path_of(self.contract, mix)), kind)
            if not self.itemize:
                for model in models_for(self.contract, mix):
                    agg = t.by_model.get(model)
                    if not agg:
                        continue
                    yield Entry(
                        f"load/{mix.name}/{model}", "load", f"{model} {label} x{agg['total']}",
                        Status.FAIL if agg["failed"] else Status.PASS,
                        observed={"model": model, "stream": mix.is_streaming, **agg},
                        expected={"failed": 0}, tags=("request", kind), location=loc,
                        message="" if not agg["failed"] else
                        f"{agg['failed']} of {agg['total']} failed; first: {agg['first_failures'][0]['message']}")
            schema_name = mix.chunk_schema if mix.is_streaming else mix.response_schema
            if schema_name:
                yield tally_entry(f"schema/responses/{mix.name}", "schema",
                                  f"{mix.name} {'chunks' if mix.is_streaming else 'responses'} match {schema_name}",
                                  t.schema, loc, ("response",), "responses")
            yield tally_entry(f"check/responses/{mix.name}/model", "check",
                              f"{mix.name}: model echoes the request", t.model, loc,
                              ("response",), "responses")
            yield tally_entry(f"check/responses/{mix.name}/usage", "check",
                              f"{mix.name}: usage adds up",
                              t.usage, loc, ("response", "usage"), "responses reporting usage")


def _label(api: str, kind: str) -> str:
    """How a request is named in its entry: 'streaming', or 'completions streaming' beside chat."""
    return kind if api == "chat" else f"{api} {kind}"


async def run_traffic(ctx: RunContext, transport: HttpClient, sink: Callable[[Entry], None]) -> TrafficResult:
    """Send every planned request, handing each itemized request's entry to SINK as it finishes."""
    return await TrafficRun(ctx, transport, sink).run()
