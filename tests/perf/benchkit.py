"""The benchmark's parts: sizes, a figure with its repeats, a child process accounted with wait4,
and the shared state of one run (servers started once, failures seen)."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import requests

import proctree
from fakeai_contract.lifecycle import ServerProcess, free_port, reference_command

HERE = Path(__file__).resolve().parent
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
    load_concurrency: int = 64    # closed-loop workers of the firehose and --workers runs
    aiperf_streams: int = 300     # the side by side with AIPerf
    aiperf_few_streams: int = 20  # ... and its run of few streams (CPU per stream beyond start-up)
    aiperf_concurrency: int = 10


FULL = Sizes(repeat=3, cpu_requests=5000, cpu_concurrency=32, wrk_seconds=3, timing_streams=40,
             timing_concurrency=4, big_mix=10_000, small_mix=1_000, mix_concurrency=64)
# Quick: every section and figure, at the smallest sizes that still give each a value (a smoke test).
QUICK = Sizes(repeat=1, cpu_requests=20, cpu_concurrency=32, wrk_seconds=1, timing_streams=4,
              timing_concurrency=4, big_mix=40, small_mix=4, mix_concurrency=64, load_seconds=0.2,
              many_streams=16, rates=(50,), aiperf_streams=20, aiperf_few_streams=4,
              aiperf_concurrency=4, load_concurrency=8)


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


def load_meta(child: Child, key: str) -> float | None:
    return ((child.ledger or {}).get("meta") or {}).get("load", {}).get(key)


def client_value(child: Child, *path: str) -> Any:
    value: Any = (child.ledger or {}).get("client")
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


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
