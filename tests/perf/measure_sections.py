"""The benchmark's measurement sections: what the client can be trusted with under load
(chunk cost, many streams, open-loop rates, --workers), and the same streaming run under AIPerf."""

from __future__ import annotations

from pathlib import Path

import aiperf_side
from benchkit import (AIPERF_TOKENS, CLOSED_CONTRACT, FIREHOSE_CHUNKS, ITL_S, PACED_CONTRACT, STREAMS_CONTRACT,
                      TTFT_S, Bench, Metric, run_child)
from benchkit import client_value as _client

# -- measurement under load: chunk cost, many streams, open-loop rates, workers -----------

def bench_load(b: Bench) -> list[Metric]:
    """What the client can be trusted with: its cost per stream chunk, its TTFT error and loop lag
    at many concurrent streams, achieved against requested open-loop rates, and --workers 2."""
    secs = b.sizes.load_seconds
    lc = b.sizes.load_concurrency
    chunks = Metric("load.chunks_per_cpu_s", f"stream chunks parsed per runner CPU-second (firehose, c={lc})",
                    "chunks/s", note=f"the firehose server writes {FIREHOSE_CHUNKS}-chunk streams at once; "
                                     "runner CPU of a 1-request run subtracted")
    n = b.sizes.many_streams
    ttft = Metric("load.many_ttft_p50_error_ms", f"{n} concurrent streams: client TTFT p50 - {TTFT_S * 1000:g} ms",
                  "ms", signed=True, note="server and runner share the cores: the error includes the server's own delay")
    lag = Metric("load.many_loop_lag_p99_ms", f"{n} concurrent streams: runner loop lag p99", "ms")
    saturated = Metric("load.many_saturated", f"{n} concurrent streams: client/saturation warned (1 = yes)", "",
                       signed=True, note="a 0/1 flag per repeat")
    rates = {}
    for r in b.sizes.rates:
        rates[r] = Metric(f"load.rate_{r}_ratio", f"open loop at {r} req/s: achieved / requested", "x",
                          target="0.95..1.05", meets=lambda v: 0.95 <= v <= 1.05)
    workers = _workers_metrics(lc)
    fire = b.server(firehose=True)
    timed = b.server("--ttft", str(TTFT_S), "--itl", str(ITL_S))
    plain = b.server("--latency", "0")
    for i in range(b.sizes.repeat):
        tiny = b.runner(fire, CLOSED_CONTRACT, concurrency=1, duration=0.01, streaming="true")
        st = b.runner(fire, CLOSED_CONTRACT, concurrency=lc, duration=secs, streaming="true")
        parsed = _client(st, "streams", "chunks") or 0
        if st.cpu_s > tiny.cpu_s:
            chunks.runs.append(parsed / (st.cpu_s - tiny.cpu_s))
        many = b.runner(timed, CLOSED_CONTRACT, concurrency=n, duration=secs, streaming="true", max_tokens=20)
        if _client(many, "ttft_s", "p50") is not None:
            ttft.runs.append((_client(many, "ttft_s", "p50") - TTFT_S) * 1000)
            lag.runs.append((_client(many, "runner", "loop_lag_s", "p99") or 0) * 1000)
            saturated.runs.append(1.0 if _client(many, "runner", "saturated") else 0.0)
        for r, metric in rates.items():
            paced = b.runner(plain, PACED_CONTRACT, rate=r, duration=secs)
            achieved = _client(paced, "load", "requests_per_second")
            if achieved:
                metric.runs.append(achieved / r)
        for kind, streaming in (("streams", "true"), ("plain", "false")):
            _workers_repeat(b, fire, workers[kind], secs, streaming, second_first=i % 2 == 1)
    return [chunks, ttft, lag, saturated, *rates.values(), *workers["streams"], *workers["plain"]]


def _workers_metrics(lc: int) -> dict[str, list[Metric]]:
    """The --workers rows: scaling on 400-chunk streams (held to >= 1.6), and on one-line answers."""
    out = {}
    for kind, what in (("streams", f"{FIREHOSE_CHUNKS}-chunk streams"), ("plain", "non-streaming")):
        key = "load.workers" if kind == "streams" else "load.plain_workers"
        one = Metric(f"{key}1_rps", f"closed loop c={lc}, 1 worker, firehose, {what}: requests/s", "req/s")
        two = Metric(f"{key}2_rps", f"closed loop c={lc}, --workers 2, firehose, {what}: requests/s", "req/s")
        ratio = Metric(f"{key}_ratio", f"--workers 2 / 1 worker, {what}", "x")
        server = Metric(f"{key}_server_share", f"firehose server CPU during --workers 2, {what}", "core",
                        note="the server's CPU seconds during the run over the load's wall time")
        busy1 = Metric(f"{key}1_core_share", f"1 worker's CPU, {what}", "core",
                       note="near 1: the single worker is bound by its own CPU, so the ratio measures scaling")
        busy2 = Metric(f"{key}2_core_share", f"--workers 2: each worker's CPU, {what}", "core")
        if kind == "streams":
            ratio.target, ratio.meets = ">= 1.6", (lambda v: v >= 1.6)
            ratio.note = ("the server writes each pre-rendered stream in one go, so its CPU per request "
                          "is small against the client's parsing of 400 chunks: see server_share")
        else:
            ratio.note = ("no target: the same with one-line answers, where a request is mostly HTTP work "
                          "on both sides; the server's share is beside it")
        out[kind] = [one, two, ratio, server, busy1, busy2]
    return out


def _workers_repeat(b: Bench, url: str, metrics: list[Metric], secs: float, streaming: str,
                    second_first: bool) -> None:
    """One repeat of 1 worker against --workers 2 (in either order), with the server's CPU share."""
    one, two, ratio, server, busy1, busy2 = metrics
    rates, busy, share = {}, {}, None
    for workers in ((2, 1) if second_first else (1, 2)):
        before = b.server_cpu_s(url)
        child = b.runner(url, CLOSED_CONTRACT, "--workers", str(workers), concurrency=b.sizes.load_concurrency, duration=secs,
                         streaming=streaming)
        rates[workers] = _client(child, "load", "requests_per_second")
        busy[workers] = _client(child, "runner", "cpu", "mean_share_of_core")    # per worker
        wall = _client(child, "load", "wall_s")
        if workers == 2 and wall:
            share = (b.server_cpu_s(url) - before) / wall
    if rates[1] and rates[2]:
        one.runs.append(rates[1])
        two.runs.append(rates[2])
        ratio.runs.append(rates[2] / rates[1])
        server.runs.append(share or 0.0)
        busy1.runs.append(busy[1] or 0.0)
        busy2.runs.append(busy[2] or 0.0)


# -- the same streaming run under AIPerf ---------------------------------------------------

def bench_aiperf(b: Bench) -> list[Metric]:
    """The same streams (server, count, concurrency, length) under the runner and under AIPerf:
    CPU seconds and peak memory of each tool's whole process tree, CPU per stream beyond start-up
    (against a run of few streams), and TTFT/ITL p50 of each."""
    n, few, c, tokens = b.sizes.aiperf_streams, b.sizes.aiperf_few_streams, b.sizes.aiperf_concurrency, AIPERF_TOKENS
    what = f"{n} streams, c={c}, {tokens} tokens"
    cpu = {"runner": Metric("aiperf.runner_cpu_s", f"{what}: runner CPU (user+sys)", "s"),
           "aiperf": Metric("aiperf.aiperf_cpu_s", f"{what}: AIPerf CPU (user+sys, all its processes)", "s")}
    ratio = Metric("aiperf.cpu_ratio", "runner CPU / AIPerf CPU", "x", target="<= 0.1", meets=lambda v: v <= 0.1,
                   note="both whole tools from start to exit, interpreter start-up and imports included; "
                        "the runner also validates every chunk against a JSON schema, AIPerf does not")
    per = {who: Metric(f"aiperf.{who}_stream_ms", f"{name} CPU per stream beyond start-up", "ms", signed=True,
                       note=f"(CPU of {n} streams - CPU of {few}) / {n - few}" if who == "runner" else "")
           for who, name in (("runner", "runner"), ("aiperf", "AIPerf"))}
    per_ratio = Metric("aiperf.stream_ratio", "runner / AIPerf CPU per stream beyond start-up", "x", signed=True,
                       note="the stricter comparison: what each stream costs once both tools are running")
    mem = {"runner": Metric("aiperf.runner_pss_mb", f"{what}: runner peak memory (PSS)", "MB"),
           "aiperf": Metric("aiperf.aiperf_pss_mb", f"{what}: AIPerf peak memory (PSS summed over its processes)",
                            "MB")}
    mem_ratio = Metric("aiperf.pss_ratio", "runner peak memory / AIPerf peak memory", "x")
    procs = Metric("aiperf.aiperf_processes", "AIPerf processes (the runner: 1)", "")
    ttft = {who: Metric(f"aiperf.{who}_ttft_p50_ms", f"{name} TTFT p50 - {TTFT_S * 1000:g} ms configured", "ms",
                        signed=True) for who, name in (("runner", "runner"), ("aiperf", "AIPerf"))}
    itl = {who: Metric(f"aiperf.{who}_itl_p50_ms", f"{name} ITL p50 - {ITL_S * 1000:g} ms configured", "ms",
                       signed=True) for who, name in (("runner", "runner"), ("aiperf", "AIPerf"))}
    itl["aiperf"].note = ("AIPerf's ITL is per request, (latency - TTFT) / (tokens - 1), then the p50 "
                          "over requests; the runner's is the p50 over every gap between two tokens")
    rows = [cpu["runner"], cpu["aiperf"], ratio, per["runner"], per["aiperf"], per_ratio, mem["runner"],
            mem["aiperf"], mem_ratio, procs, ttft["runner"], ttft["aiperf"], itl["runner"], itl["aiperf"]]
    if not b.aiperf:
        for m in rows:
            m.skipped, m.note = f"aiperf not installed (pass --aiperf PATH or set {aiperf_side.ENV})", ""
        return rows
    tokenizer = aiperf_side.build_tokenizer(b.aiperf, b.workdir / "tokenizer")
    url = b.server("--ttft", str(TTFT_S), "--itl", str(ITL_S))
    for i in range(b.sizes.repeat):
        seen = {}
        # who goes first alternates, so drift in the server's or the machine's state favours neither
        for who in (("aiperf", "runner") if i % 2 else ("runner", "aiperf")):
            runs = [_side(b, who, url, size, c, tokens, tokenizer, f"{i}-{size}") for size in (few, n)]
            if all(r is not None for r in runs):
                seen[who] = runs
        if len(seen) < 2:
            continue
        for who, ((small, _), (big, got)) in seen.items():
            cpu[who].runs.append(big.cpu_s)
            per[who].runs.append((big.cpu_s - small.cpu_s) / (n - few) * 1000)
            mem[who].runs.append(big.tree_pss_mb)
            ttft[who].runs.append((got["ttft_p50_s"] - TTFT_S) * 1000)
            itl[who].runs.append((got["itl_p50_s"] - ITL_S) * 1000)
        ratio.runs.append(cpu["runner"].runs[-1] / cpu["aiperf"].runs[-1])
        per_ratio.runs.append(per["runner"].runs[-1] / per["aiperf"].runs[-1])
        mem_ratio.runs.append(mem["runner"].runs[-1] / mem["aiperf"].runs[-1])
        procs.runs.append(float(seen["aiperf"][1][0].processes))
    return rows


def _side(b: Bench, who: str, url: str, n: int, c: int, tokens: int, tokenizer: Path, tag: str):
    """One run of N streams by WHO (the runner or AIPerf): (child, {ttft_p50_s, itl_p50_s}), or None."""
    if who == "runner":
        child = b.runner(url, STREAMS_CONTRACT, watch=True, streams=n, concurrency=c, max_tokens=tokens)
        got = {"ttft_p50_s": _client(child, "ttft_s", "p50"), "itl_p50_s": _client(child, "itl_s", "p50")}
        return (child, got) if child.code == 0 and got["ttft_p50_s"] is not None else None
    artifacts = b.workdir / f"aiperf-{tag}"
    argv = aiperf_side.argv(b.aiperf, url, streams=n, concurrency=c, max_tokens=tokens, tokenizer=tokenizer,
                            artifacts=artifacts)
    child = run_child(argv, b.workdir / "aiperf.log", env=aiperf_side.environment(), watch=True)
    try:
        got = aiperf_side.results(artifacts)
    except (OSError, ValueError) as exc:
        b.failures.append(f"aiperf exited {child.code} without results ({exc}); see {b.workdir / 'aiperf.log'}")
        return None
    if child.code != 0 or got["errors"] or got["requests"] != n or got["ttft_p50_s"] is None:
        b.failures.append(f"aiperf exited {child.code}: {got['requests']} requests, {got['errors']} error kinds")
        return None
    return child, got
