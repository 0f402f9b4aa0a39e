"""Performance benchmark of the runner against the bundled reference server.

    python3 tests/perf/bench.py [--quick] [--repeat N] [--json OUT] [--markdown OUT] [--wrk PATH | --no-wrk]
                                [--only SECTION] [--aiperf PATH]

Every figure is the median over N repeats, and every ratio is taken within one repeat (the two
sides measured back to back against the same server) before the median. The runner always runs
as a subprocess (`python3 -m fakeai_contract run ... --base-url URL`) against reference servers
the benchmark starts once (one with default options, one for the timing section), so neither side
pays for a server start; its CPU time and peak RSS come from `os.wait4`. Server, runner and wrk
share the machine's cores.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import fakeai_contract

sys.path.insert(0, str(Path(__file__).resolve().parent))     # the modules beside this script
import aiperf_side  # noqa: E402
from benchkit import (BASELINE, FULL, ITL_S, QUICK, TTFT_S, Bench, Child, Metric, Sizes,  # noqa: E402
                      parse_wrk, run_child)
from benchkit import client_value as _client  # noqa: E402
from benchkit import load_meta as _load_meta  # noqa: E402
from measure_sections import bench_aiperf, bench_load  # noqa: E402

__all__ = ["Bench", "Child", "Metric", "Sizes", "main", "markdown", "parse_wrk", "run_child", "table"]


# -- 1. the seed contract against the seed's script -----------------------------------------

def bench_seed(b: Bench) -> list[Metric]:
    """Wall time of the shipped contract and of the seed's sequential script, same server."""
    runner = Metric("seed.runner_wall_s", "seed contract: runner wall (subprocess, --base-url)", "s")
    base = Metric("seed.baseline_wall_s", "seed contract: seed script wall (requests + sleep(1))", "s")
    ratio = Metric("seed.ratio", "seed contract: runner / seed script", "x", target="<= 0.3",
                   meets=lambda v: v <= 0.3)
    load = Metric("seed.runner_load_s", "seed contract: runner's load phase", "s")
    floor = Metric("seed.ratio_floor", "seed contract: load phase / seed script (ratio's floor)", "x",
                   note="the contract's load phase alone; no runner can go below it")
    parallel = Metric("seed.concurrent_ratio", "seed contract at concurrency 20 / seed script", "x",
                      note="the same 20 requests all in flight at once: what concurrency: 1 costs")
    url = b.server()
    for i in range(b.sizes.repeat):
        # Alternate who goes first, so drift in the server's state favours neither side.
        order = ("runner", "baseline", "concurrent") if i % 2 == 0 else ("concurrent", "baseline", "runner")
        walls: dict[str, float] = {}
        for who in order:
            if who == "runner":
                child = b.runner(url)
                load.runs.append(_load_meta(child, "wall_s") or 0.0)
            elif who == "concurrent":
                child = b.mix(url, non_streaming=10, streaming=10, concurrency=20)
            else:
                child = run_child([sys.executable, str(BASELINE), url], b.workdir / "baseline.log")
                if child.code != 0:
                    b.failures.append(f"seed baseline exited {child.code}")
            walls[who] = child.wall_s
        runner.runs.append(walls["runner"])
        base.runs.append(walls["baseline"])
        ratio.runs.append(walls["runner"] / walls["baseline"])
        floor.runs.append(load.runs[-1] / walls["baseline"])
        parallel.runs.append(walls["concurrent"] / walls["baseline"])
    return [runner, base, ratio, load, floor, parallel]


# -- 2. CPU per request and the rate driven, against wrk ------------------------------------

def bench_cpu(b: Bench) -> list[Metric]:
    """Runner CPU per request (start-up subtracted) and its request rate against wrk's."""
    n, c = b.sizes.cpu_requests, b.sizes.cpu_concurrency
    startup = Metric("cpu.startup_s", "runner CPU, 1+1 request run (fixed cost)", "s")
    per = {kind: Metric(f"cpu.{kind}_ms", f"runner CPU per {kind.replace('_', '-')} request, c={c}", "ms",
                        signed=True) for kind in ("non_streaming", "streaming")}
    per["non_streaming"].target, per["non_streaming"].meets = "<= 0.3", (lambda v: v <= 0.3)
    rate = Metric("rate.runner_rps", f"runner rate, non-streaming, c={c}", "req/s")
    wrk = Metric("rate.wrk_rps", f"wrk rate, same body, -c {c} -t 1 -d {b.sizes.wrk_seconds}s", "req/s")
    ratio = Metric("rate.ratio", "runner rate / wrk rate", "x", target=">= 0.5", meets=lambda v: v >= 0.5)
    if not b.wrk:
        wrk.skipped = ratio.skipped = "wrk not found (install wrk or pass --wrk PATH)"
    url = b.server()
    for i in range(b.sizes.repeat):
        # wrk goes before the runner every other repeat: neither meets the server warmer.
        wrk_first = b.wrk is not None and i % 2 == 1
        driven = b.wrk_rate(url, c) if wrk_first else None
        tiny = b.mix(url, non_streaming=1, streaming=1, concurrency=c)
        startup.runs.append(tiny.cpu_s)
        # Each big run has the other kind's single request, as the tiny run does: it cancels.
        ns = b.mix(url, non_streaming=n, streaming=1, concurrency=c)
        st = b.mix(url, non_streaming=1, streaming=n, concurrency=c)
        per["non_streaming"].runs.append((ns.cpu_s - tiny.cpu_s) / (n - 1) * 1000)
        per["streaming"].runs.append((st.cpu_s - tiny.cpu_s) / (n - 1) * 1000)
        rate.runs.append(_load_meta(ns, "requests_per_second") or 0.0)
        if b.wrk and driven is None:
            driven = b.wrk_rate(url, c)
        if driven:
            wrk.runs.append(driven)
            ratio.runs.append(rate.runs[-1] / driven)
    return [startup, per["non_streaming"], per["streaming"], rate, wrk, ratio]


# -- 3. TTFT and ITL as the client measures them ----------------------------------------------

def bench_timing(b: Bench) -> list[Metric]:
    """Client-measured TTFT and ITL p50 minus what the server was told to produce."""
    ttft = Metric("timing.ttft_p50_error_ms", f"TTFT p50 - {TTFT_S * 1000:g} ms configured", "ms",
                  target="|x| <= 2", meets=lambda v: abs(v) <= 2, signed=True)
    itl = Metric("timing.itl_p50_error_ms", f"ITL p50 - {ITL_S * 1000:g} ms configured", "ms",
                 target="|x| <= 1", meets=lambda v: abs(v) <= 1, signed=True)
    url = b.server("--ttft", str(TTFT_S), "--itl", str(ITL_S))
    for _ in range(b.sizes.repeat):
        child = b.mix(url, non_streaming=1, streaming=b.sizes.timing_streams,
                      concurrency=b.sizes.timing_concurrency)
        measured_ttft, measured_itl = _client(child, "ttft_s", "p50"), _client(child, "itl_s", "p50")
        if measured_ttft is None or measured_itl is None:
            b.failures.append("timing run reported no TTFT or ITL")
            continue
        ttft.runs.append((measured_ttft - TTFT_S) * 1000)
        itl.runs.append((measured_itl - ITL_S) * 1000)
    return [ttft, itl]


# -- 4. a large mix: wall time and memory -----------------------------------------------------

def bench_memory(b: Bench) -> list[Metric]:
    """Wall time and peak RSS of a large half-streaming mix, and RSS against a mix ten times smaller."""
    big, small, c = b.sizes.big_mix, b.sizes.small_mix, b.sizes.mix_concurrency
    wall = Metric("mix.big_wall_s", f"{big} requests (half streaming), c={c}: runner wall", "s")
    rps = Metric("mix.big_rps", f"{big} requests: load phase rate", "req/s")
    rss_big = Metric("mix.big_rss_mb", f"{big} requests: runner peak RSS", "MB", target="<= 100",
                     meets=lambda v: v <= 100)
    rss_small = Metric("mix.small_rss_mb", f"{small} requests: runner peak RSS", "MB")
    growth = Metric("mix.rss_ratio", f"peak RSS {big} / {small} requests", "x", target="<= 1.5",
                    meets=lambda v: v <= 1.5)
    url = b.server()
    for _ in range(b.sizes.repeat):
        large = b.mix(url, non_streaming=big // 2, streaming=big - big // 2, concurrency=c)
        little = b.mix(url, non_streaming=small // 2, streaming=small - small // 2, concurrency=c)
        wall.runs.append(large.wall_s)
        rps.runs.append(_load_meta(large, "requests_per_second") or 0.0)
        rss_big.runs.append(large.maxrss_mb)
        rss_small.runs.append(little.maxrss_mb)
        growth.runs.append(large.maxrss_mb / little.maxrss_mb)
    return [wall, rps, rss_big, rss_small, growth]


SECTIONS: dict[str, Callable[[Bench], list[Metric]]] = {
    "seed": bench_seed, "cpu": bench_cpu, "timing": bench_timing, "memory": bench_memory, "load": bench_load,
    "aiperf": bench_aiperf}


# -- report -----------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu": model or platform.processor() or "unknown",
            "python": platform.python_version(), "platform": platform.platform()}


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    digits = 3 if abs(value) < 10 else 1
    return f"{value:.{digits}f} {unit}"


_MET = {True: "yes", False: "NO", None: ""}


def table(metrics: list[Metric]) -> str:
    """The metrics as a fixed-width table: metric, value, target, met?."""
    rows = [("metric", "value", "target", "met?")]
    rows += [(m.label, _fmt(m.value, m.unit), m.target, "skipped" if m.skipped else _MET[m.met])
             for m in metrics]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  {m.key}: {'skipped: ' + m.skipped if m.skipped else m.note}" for m in metrics
             if m.note or m.skipped]
    return "\n".join(lines + (["notes:"] + notes if notes else []))


def load_average() -> list[float]:
    """The machine's 1-, 5- and 15-minute load averages: how busy it was besides the benchmark."""
    return [round(x, 2) for x in os.getloadavg()]


def markdown(metrics: list[dict[str, Any]]) -> str:
    """The report's metrics as a Markdown table (metric | value | target | met?), for the README."""
    lines = ["| metric | value | target | met? |", "|---|---|---|---|"]
    for m in metrics:
        met = "skipped" if m["skipped"] else {True: "yes", False: "no", None: ""}[m["met"]]
        lines.append(f"| {m['label']} | {_fmt(m['value'], m['unit'])} | {m['target'] or ''} | {met} |")
    return "\n".join(lines) + "\n"


def run(sizes: Sizes, wrk: str | None, workdir: Path, sections: list[str] | None = None,
        aiperf: str | None = None) -> dict[str, Any]:
    """The SECTIONS (default: all) in order; the report as a JSON-ready document."""
    t0 = time.perf_counter()
    before = load_average()
    with ExitStack() as stack:
        bench = Bench(sizes, workdir, wrk, stack)
        bench.aiperf = aiperf
        metrics = [m for name in (sections or SECTIONS) for m in SECTIONS[name](bench)]
    return {"machine": machine(), "repeat": sizes.repeat, "sizes": sizes.__dict__,
            "load_average": {"start": before, "end": load_average()},
            "duration_s": round(time.perf_counter() - t0, 3), "failures": bench.failures,
            "metrics": [m.to_dict() for m in metrics], "table": table(metrics)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="shrink every size: a few seconds in all")
    p.add_argument("--repeat", type=int, help="runs per figure (default: 3, or 1 with --quick)")
    p.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    p.add_argument("--markdown", metavar="OUT", help="also write the figures as a Markdown table to OUT")
    p.add_argument("--wrk", default=shutil.which("wrk"), help="the wrk binary (default: wrk on PATH)")
    p.add_argument("--no-wrk", action="store_true", help="skip the wrk comparison")
    p.add_argument("--aiperf", metavar="PATH", help=f"the aiperf executable for the side by side (default: "
                   f"${aiperf_side.ENV}; without either the aiperf rows are skipped)")
    p.add_argument("--only", action="append", choices=list(SECTIONS), help="run only this section (repeatable)")
    args = p.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repeat:
        sizes = Sizes(**{**sizes.__dict__, "repeat": max(1, args.repeat)})
    aiperf = aiperf_side.find(args.aiperf)
    if (args.aiperf or os.environ.get(aiperf_side.ENV)) and not aiperf:
        print(f"error: no aiperf executable at {args.aiperf or os.environ[aiperf_side.ENV]}", file=sys.stderr)
        return 2
    # An installed wheel is byte-compiled by pip; a checkout run with PYTHONDONTWRITEBYTECODE would
    # otherwise compile the package in every runner start and count that as the runner's CPU.
    compileall.compile_dir(Path(fakeai_contract.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="fakeai-bench-") as tmp:
        report = run(sizes, None if args.no_wrk else args.wrk, Path(tmp), args.only, aiperf)
    m = report["machine"]
    print(f"machine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}; server and runner share them")
    print(f"load average (1, 5, 15 min): {report['load_average']['start']} at the start, "
          f"{report['load_average']['end']} at the end")
    print(f"medians of {sizes.repeat} run(s); took {report['duration_s']:.1f}s"
          + ("; --quick: sizes too small for the figures to mean much" if args.quick else "") + "\n")
    print(report["table"])
    for failure in report["failures"]:
        print(f"FAILURE: {failure}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(report["metrics"]))
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
