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
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

import fakeai_contract
from fakeai_contract.lifecycle import ServerProcess, free_port, reference_command

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import aiperf_side  # noqa: E402 - beside this script
import proctree  # noqa: E402

STREAMS_CONTRACT = HERE / "contracts" / "bench-streams.yaml"
MIX_CONTRACT = HERE / "contracts" / "bench-mix.yaml"
PACED_CONTRACT = HERE / "contracts" / "bench-paced.yaml"
CLOSED_CONTRACT = HERE / "contracts" / "bench-closed.yaml"
FIREHOSE = HERE.parent / "firehose_server.py"
FIREHOSE_CHUNKS = 400
BASELINE = HERE / "seed_baseline.py"
CHAT = "/v1/chat/completions"
TTFT_S, ITL_S = 0.05, 0.01          # the timing section's server settings
AIPERF_TOKENS = 16                  # tokens per stream in the side by side with AIPerf
HEALTH_TIMEOUT_S = 30.0
CHILD_TIMEOUT_S = 600.0
#: The body wrk sends: the bench contract's non-streaming body, as the runner sends it.
WRK_BODY = {"messages": [{"role": "user", "content": "Test request 1: Please respond with a brief greeting."}],
            "max_tokens": 50, "temperature": 0.7, "stream": False, "model": "gpt-4"}


@dataclass(frozen=True)
class Sizes:
    """How much work each section does."""

    repeat: int
    cpu_requests: int        # requests of one kind in the CPU-per-request runs
    cpu_concurrency: int
    wrk_seconds: int
    timing_streams: int
    timing_concurrency: int
    big_mix: int             # requests in the large mix (half streaming)
    small_mix: int           # ... and in the mix it is compared with
    mix_concurrency: int
    load_seconds: float = 3.0     # each run of the measurement section
    many_streams: int = 1000      # concurrent streams in the loop-lag run
    rates: tuple[int, ...] = (500, 2000)
    aiperf_streams: int = 300     # the side by side with AIPerf
    aiperf_concurrency: int = 10


FULL = Sizes(repeat=3, cpu_requests=5000, cpu_concurrency=32, wrk_seconds=3, timing_streams=40,
             timing_concurrency=4, big_mix=10_000, small_mix=1_000, mix_concurrency=64)
QUICK = Sizes(repeat=1, cpu_requests=60, cpu_concurrency=32, wrk_seconds=1, timing_streams=8,
              timing_concurrency=4, big_mix=200, small_mix=20, mix_concurrency=64, load_seconds=0.5,
              many_streams=50, rates=(50,), aiperf_streams=20, aiperf_concurrency=4)


@dataclass
class Metric:
    """One row of the report: the runs' values, their median, and the target it is held to."""

    key: str
    label: str
    unit: str
    runs: list[float] = field(default_factory=list)
    target: str = ""
    meets: Callable[[float], bool] | None = None
    note: str = ""
    skipped: str = ""        # why there is no value, when there is none on purpose
    signed: bool = False     # a difference of two measurements: may come out negative

    @property
    def value(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None

    @property
    def met(self) -> bool | None:
        if self.meets is None or self.value is None:
            return None
        return bool(self.meets(self.value))

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "unit": self.unit, "value": self.value,
                "runs": self.runs, "target": self.target or None, "met": self.met, "note": self.note,
                "skipped": self.skipped or None, "signed": self.signed}


@dataclass
class Child:
    """A finished subprocess: exit code, wall time, rusage of its tree, the runner's ledger."""

    code: int
    wall_s: float
    cpu_s: float
    maxrss_mb: float
    ledger: dict | None = None
    tree_pss_mb: float | None = None     # peak summed PSS of the process tree (watch=True)
    processes: int = 1                   # processes seen in the tree (watch=True)


def run_child(argv: list[str], log: Path, timeout: float = CHILD_TIMEOUT_S, *, env: dict | None = None,
              watch: bool = False) -> Child:
    """Run ARGV to completion and account for it with wait4 (user + sys CPU, peak RSS).

    With WATCH, its process tree is sampled too (proctree): peak summed PSS, and CPU as the larger
    of wait4's figure and the sum of every process's last sampled CPU time. A child still running
    after TIMEOUT seconds is killed (and counts as failed).
    """
    reaped = threading.Event()
    with open(log, "ab") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        pid = proc.pid
        tree = proctree.TreeWatch(pid) if watch else None

        def kill() -> None:
            if not reaped.is_set():     # never signal a pid the kernel may have handed out again
                os.kill(pid, signal.SIGKILL)
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            # Exited but not reaped yet: the sampler stops before the pid can be handed out again.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
            wall = time.perf_counter() - t0
            if tree is not None:
                tree.stop()
            # wait4 rather than Popen.wait: it returns the child's own resource usage.
            _, status, usage = os.wait4(pid, 0)
        finally:
            reaped.set()
            watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    child = Child(code=proc.returncode, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                  maxrss_mb=usage.ru_maxrss / 1024)      # Linux reports ru_maxrss in KiB
    if tree is not None:
        child.cpu_s = max(child.cpu_s, tree.cpu_s)
        child.tree_pss_mb = tree.peak_pss_mb
        child.processes = len(tree.processes)
    return child


class Bench:
    """The shared state of one benchmark run: sizes, a scratch folder, failures seen."""

    def __init__(self, sizes: Sizes, workdir: Path, wrk: str | None, stack: ExitStack):
        self.sizes = sizes
        self.workdir = workdir
        self.wrk = wrk
        self.failures: list[str] = []
        self._runs = 0
        self._stack = stack
        self._servers: dict[tuple[str, ...], str] = {}
        self.server_pids: dict[str, int] = {}
        self.aiperf: str | None = None

    def runner(self, base_url: str, contract: Path | None = None, *extra: str, watch: bool = False,
               **sets: Any) -> Child:
        """Run the CLI against BASE_URL with the contract variables SETS; its ledger attached."""
        self._runs += 1
        report = self.workdir / f"ledger-{self._runs}.json"
        argv = [sys.executable, "-m", "fakeai_contract", "run", *([str(contract)] if contract else []),
                "--base-url", base_url, "-q", "--no-color", "--report", f"json:{report}", *extra]
        for name, value in sets.items():
            argv += ["--set", f"{name}={value}"]
        log = self.workdir / f"runner-{self._runs}.log"
        child = run_child(argv, log, watch=watch)
        child.ledger = json.loads(report.read_text()) if report.exists() else None
        if child.code != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            self.failures.append(f"runner exited {child.code}: {' '.join(argv[3:])}: {' | '.join(tail)}")
        return child

    def mix(self, base_url: str, *, non_streaming: int, streaming: int, concurrency: int) -> Child:
        """Run the bench contract with this mix."""
        return self.runner(base_url, MIX_CONTRACT, non_streaming=non_streaming, streaming=streaming,
                           concurrency=concurrency)

    def wrk_rate(self, base_url: str, connections: int) -> float | None:
        """wrk's rate against BASE_URL, or None (and a failure noted) if wrk did not give one."""
        try:
            return wrk_rate(self.wrk, base_url, self.sizes.wrk_seconds, connections, self.workdir)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            self.failures.append(f"wrk: {exc}")
            return None

    def server(self, *args: str, firehose: bool = False) -> str:
        """The base URL of a healthy reference server started with ARGS (or of the firehose test
        server, which answers faster than any client reads), started once per run."""
        key = ("firehose", *args) if firehose else args
        if key not in self._servers:
            port = free_port()
            command = ([sys.executable, str(FIREHOSE), str(port), str(FIREHOSE_CHUNKS)] if firehose
                       else reference_command(list(args), port))
            server = self._stack.enter_context(ServerProcess(command, log_path=self.workdir / f"server-{port}.log"))
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, server)
            self._servers[key] = url
            self.server_pids[url] = server.pid
        return self._servers[key]

    def server_cpu_s(self, url: str) -> float:
        """CPU seconds the server at URL has used so far."""
        return proctree.cpu_s(self.server_pids[url]) or 0.0


def _wait_healthy(url: str, server: ServerProcess) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    with requests.Session() as s:
        s.trust_env = False
        while True:
            try:
                if s.get(url + "/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reference server not healthy: {server!r}; log: {server.tail(10)}")
            time.sleep(0.02)


def _load_meta(child: Child, key: str) -> float | None:
    return ((child.ledger or {}).get("meta") or {}).get("load", {}).get(key)


def _client(child: Child, *path: str) -> Any:
    value: Any = (child.ledger or {}).get("client")
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


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

def wrk_rate(wrk: str, url: str, seconds: int, connections: int, workdir: Path) -> float:
    """Requests per second wrk drives with WRK_BODY; raises if any answer was not 2xx."""
    script = workdir / "post.lua"
    script.write_text('wrk.method = "POST"\n'
                      f"wrk.body = {json.dumps(json.dumps(WRK_BODY))}\n"
                      'wrk.headers["Content-Type"] = "application/json"\n')
    out = subprocess.run([wrk, "-c", str(connections), "-t", "1", "-d", f"{seconds}s", "-s", str(script),
                          url + CHAT], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return parse_wrk(out)


def parse_wrk(output: str) -> float:
    """The Requests/sec figure of wrk's output; ValueError if missing or if answers were not 2xx."""
    bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if bad:
        raise ValueError(f"wrk got {bad.group(1)} non-2xx answers")
    rate = re.search(r"Requests/sec:\s*([0-9.]+)", output)
    if not rate:
        raise ValueError(f"no Requests/sec in wrk's output: {output[-300:]!r}")
    return float(rate.group(1))


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


# -- 5. measurement under load: chunk cost, many streams, open-loop rates, workers -----------

def bench_load(b: Bench) -> list[Metric]:
    """What the client can be trusted with: its cost per stream chunk, its TTFT error and loop lag
    at many concurrent streams, achieved against requested open-loop rates, and --workers 2."""
    secs = b.sizes.load_seconds
    chunks = Metric("load.chunks_per_cpu_s", "stream chunks parsed per runner CPU-second (firehose, c=64)",
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
    workers = _workers_metrics()
    fire = b.server(firehose=True)
    timed = b.server("--ttft", str(TTFT_S), "--itl", str(ITL_S))
    plain = b.server("--latency", "0")
    for i in range(b.sizes.repeat):
        tiny = b.runner(fire, CLOSED_CONTRACT, concurrency=1, duration=0.01, streaming="true")
        st = b.runner(fire, CLOSED_CONTRACT, concurrency=64, duration=secs, streaming="true")
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


def _workers_metrics() -> dict[str, list[Metric]]:
    """The --workers rows: scaling on 400-chunk streams (held to >= 1.6), and on one-line answers."""
    out = {}
    for kind, what in (("streams", f"{FIREHOSE_CHUNKS}-chunk streams"), ("plain", "non-streaming")):
        key = "load.workers" if kind == "streams" else "load.plain_workers"
        one = Metric(f"{key}1_rps", f"closed loop c=64, 1 worker, firehose, {what}: requests/s", "req/s")
        two = Metric(f"{key}2_rps", f"closed loop c=64, --workers 2, firehose, {what}: requests/s", "req/s")
        ratio = Metric(f"{key}_ratio", f"--workers 2 / 1 worker, {what}", "x")
        server = Metric(f"{key}_server_share", f"firehose server CPU during --workers 2, {what}", "core",
                        note="the server's CPU seconds during the run over the load's wall time")
        if kind == "streams":
            ratio.target, ratio.meets = ">= 1.6", (lambda v: v >= 1.6)
            ratio.note = ("the server writes each pre-rendered stream in one go, so its CPU per request "
                          "is small against the client's parsing of 400 chunks: see server_share")
        else:
            ratio.note = ("no target: the same with one-line answers, where a request is mostly HTTP work "
                          "on both sides; the server's share is beside it")
        out[kind] = [one, two, ratio, server]
    return out


def _workers_repeat(b: Bench, url: str, metrics: list[Metric], secs: float, streaming: str,
                    second_first: bool) -> None:
    """One repeat of 1 worker against --workers 2 (in either order), with the server's CPU share."""
    one, two, ratio, server = metrics
    rates, share = {}, None
    for workers in ((2, 1) if second_first else (1, 2)):
        before = b.server_cpu_s(url)
        child = b.runner(url, CLOSED_CONTRACT, "--workers", str(workers), concurrency=64, duration=secs,
                         streaming=streaming)
        rates[workers] = _client(child, "load", "requests_per_second")
        wall = _client(child, "load", "wall_s")
        if workers == 2 and wall:
            share = (b.server_cpu_s(url) - before) / wall
    if rates[1] and rates[2]:
        one.runs.append(rates[1])
        two.runs.append(rates[2])
        ratio.runs.append(rates[2] / rates[1])
        server.runs.append(share or 0.0)


# -- 6. the same streaming run under AIPerf ---------------------------------------------------

def bench_aiperf(b: Bench) -> list[Metric]:
    """The same streams (server, count, concurrency, length) under the runner and under AIPerf:
    CPU seconds and peak memory of each tool's whole process tree, and TTFT/ITL p50 of each."""
    n, c, tokens = b.sizes.aiperf_streams, b.sizes.aiperf_concurrency, AIPERF_TOKENS
    what = f"{n} streams, c={c}, {tokens} tokens"
    ours_cpu = Metric("aiperf.runner_cpu_s", f"{what}: runner CPU (user+sys)", "s")
    their_cpu = Metric("aiperf.aiperf_cpu_s", f"{what}: AIPerf CPU (user+sys, all its processes)", "s")
    ratio = Metric("aiperf.cpu_ratio", "runner CPU / AIPerf CPU", "x", target="<= 0.1", meets=lambda v: v <= 0.1)
    ours_mem = Metric("aiperf.runner_pss_mb", f"{what}: runner peak memory (PSS)", "MB")
    their_mem = Metric("aiperf.aiperf_pss_mb", f"{what}: AIPerf peak memory (PSS summed over its processes)",
                       "MB")
    mem_ratio = Metric("aiperf.pss_ratio", "runner peak memory / AIPerf peak memory", "x")
    ttft = {who: Metric(f"aiperf.{who}_ttft_p50_ms", f"{who if who == 'runner' else 'AIPerf'} TTFT p50 "
                        f"- {TTFT_S * 1000:g} ms configured", "ms", signed=True) for who in ("runner", "aiperf")}
    itl = {who: Metric(f"aiperf.{who}_itl_p50_ms", f"{who if who == 'runner' else 'AIPerf'} ITL p50 "
                       f"- {ITL_S * 1000:g} ms configured", "ms", signed=True) for who in ("runner", "aiperf")}
    rows = [ours_cpu, their_cpu, ratio, ours_mem, their_mem, mem_ratio, ttft["runner"], ttft["aiperf"],
            itl["runner"], itl["aiperf"]]
    if not b.aiperf:
        for m in rows:
            m.skipped = f"aiperf not installed (pass --aiperf PATH or set {aiperf_side.ENV})"
        return rows
    itl["aiperf"].note = ("AIPerf's ITL is per request, (latency - TTFT) / (tokens - 1), then the p50 "
                           "over requests; the runner's is the p50 over every gap between two tokens")
    ratio.note = ("both whole tools from start to exit, interpreter start-up and imports included; "
                  "the runner also validates every chunk against a JSON schema, AIPerf does not")
    tokenizer = aiperf_side.build_tokenizer(b.aiperf, b.workdir / "tokenizer")
    url = b.server("--ttft", str(TTFT_S), "--itl", str(ITL_S))
    for i in range(b.sizes.repeat):
        seen = {}
        for who in (("aiperf", "runner") if i % 2 else ("runner", "aiperf")):
            if who == "runner":
                child = b.runner(url, STREAMS_CONTRACT, watch=True, streams=n, concurrency=c, max_tokens=tokens)
                got = {"ttft_p50_s": _client(child, "ttft_s", "p50"), "itl_p50_s": _client(child, "itl_s", "p50")}
            else:
                child, got = _aiperf_run(b, url, n, c, tokens, tokenizer, i)
            if child is not None and got.get("ttft_p50_s") is not None:
                seen[who] = (child, got)
        if len(seen) < 2:
            continue
        (ours, o), (theirs, t) = seen["runner"], seen["aiperf"]
        ours_cpu.runs.append(ours.cpu_s)
        their_cpu.runs.append(theirs.cpu_s)
        ratio.runs.append(ours.cpu_s / theirs.cpu_s)
        ours_mem.runs.append(ours.tree_pss_mb)
        their_mem.runs.append(theirs.tree_pss_mb)
        mem_ratio.runs.append(ours.tree_pss_mb / theirs.tree_pss_mb)
        for who, got in (("runner", o), ("aiperf", t)):
            ttft[who].runs.append((got["ttft_p50_s"] - TTFT_S) * 1000)
            itl[who].runs.append((got["itl_p50_s"] - ITL_S) * 1000)
    return rows


def _aiperf_run(b: Bench, url: str, n: int, c: int, tokens: int, tokenizer: Path, i: int):
    artifacts = b.workdir / f"aiperf-{i}"
    argv = aiperf_side.argv(b.aiperf, url, streams=n, concurrency=c, max_tokens=tokens, tokenizer=tokenizer,
                            artifacts=artifacts)
    child = run_child(argv, b.workdir / "aiperf.log", env=aiperf_side.environment(), watch=True)
    try:
        got = aiperf_side.results(artifacts)
    except (OSError, ValueError) as exc:
        b.failures.append(f"aiperf exited {child.code} without results ({exc}); see {b.workdir / 'aiperf.log'}")
        return None, {}
    if child.code != 0 or got["errors"] or got["requests"] != n:
        b.failures.append(f"aiperf exited {child.code}: {got['requests']} requests, {got['errors']} error kinds")
        return None, {}
    return child, got


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
