"""The benchmark's quick mode runs end to end and reports every figure; the targets are not asserted."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BENCH = HERE / "bench.py"
WRK = shutil.which("wrk")
#: The quick benchmark run the module shares takes seconds: it starts early (tests/machine.py).
pytestmark = pytest.mark.slow
#: Every figure the benchmark reports, in the order it prints them.
KEYS = ["seed.runner_wall_s", "seed.baseline_wall_s", "seed.ratio", "seed.runner_load_s", "seed.ratio_floor",
        "seed.concurrent_ratio",
        "cpu.startup_s", "cpu.non_streaming_ms", "cpu.streaming_ms", "rate.runner_rps", "rate.wrk_rps",
        "rate.ratio", "timing.ttft_p50_error_ms", "timing.itl_p50_error_ms", "mix.big_wall_s", "mix.big_rps",
        "mix.big_rss_mb", "mix.small_rss_mb", "mix.rss_ratio",
        "load.chunks_per_cpu_s", "load.many_ttft_p50_error_ms", "load.many_loop_lag_p99_ms", "load.many_saturated",
        "load.rate_50_ratio", "load.workers1_rps", "load.workers2_rps", "load.workers_ratio",
        "load.workers_server_share", "load.workers1_core_share", "load.workers2_core_share",
        "load.plain_workers1_rps", "load.plain_workers2_rps", "load.plain_workers_ratio",
        "load.plain_workers_server_share", "load.plain_workers1_core_share", "load.plain_workers2_core_share",
        "aiperf.runner_cpu_s", "aiperf.aiperf_cpu_s", "aiperf.cpu_ratio", "aiperf.runner_stream_ms",
        "aiperf.aiperf_stream_ms", "aiperf.stream_ratio", "aiperf.runner_pss_mb", "aiperf.aiperf_pss_mb",
        "aiperf.pss_ratio", "aiperf.aiperf_processes", "aiperf.runner_ttft_p50_ms", "aiperf.aiperf_ttft_p50_ms",
        "aiperf.runner_itl_p50_ms", "aiperf.aiperf_itl_p50_ms"]
WRK_KEYS = {"rate.wrk_rps", "rate.ratio"}
#: The side by side with AIPerf never runs in the test suite: AIPerf is not a dependency.
AIPERF_KEYS = {k for k in KEYS if k.startswith("aiperf.")}
#: Shares that a one-second run may measure as 0 (CPU time is counted in 10 ms ticks).
MAY_BE_ZERO = {"load.workers_server_share", "load.plain_workers_server_share"}
#: Ratios and the two figures each is computed from, repeat by repeat.
RATIOS = {"seed.ratio": ("seed.runner_wall_s", "seed.baseline_wall_s"),
          "seed.ratio_floor": ("seed.runner_load_s", "seed.baseline_wall_s"),
          "rate.ratio": ("rate.runner_rps", "rate.wrk_rps"),
          "mix.rss_ratio": ("mix.big_rss_mb", "mix.small_rss_mb"),
          "load.workers_ratio": ("load.workers2_rps", "load.workers1_rps"),
          "load.plain_workers_ratio": ("load.plain_workers2_rps", "load.plain_workers1_rps")}


def _bench(tmp_path: Path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "FAKEAI_BENCH_AIPERF"}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out), *args],
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout


@pytest.fixture(scope="module")
def quick(tmp_path_factory, once):
    """One quick run of the whole benchmark (with wrk when it is installed), shared by every worker."""
    return once("bench-quick", lambda: _bench(tmp_path_factory.mktemp("bench"), *([] if WRK else ["--no-wrk"])))


def _metrics(report: dict) -> dict[str, dict]:
    return {m["key"]: m for m in report["metrics"]}


def test_report_lists_every_figure_once_with_the_machine(quick):
    report, _ = quick
    assert [m["key"] for m in report["metrics"]] == KEYS
    assert report["failures"] == []
    assert report["repeat"] == 1
    machine = report["machine"]
    assert machine["nproc"] >= 1 and machine["cpu"] and machine["python"] == platform.python_version()


def test_every_figure_is_a_finite_number_and_positive_unless_a_difference(quick):
    report, _ = quick
    for key, m in _metrics(report).items():
        if (key in WRK_KEYS and not WRK) or key in AIPERF_KEYS:
            continue
        assert len(m["runs"]) == report["repeat"], key
        assert isinstance(m["value"], float) and math.isfinite(m["value"]), (key, m)
        if key in MAY_BE_ZERO:
            assert m["value"] >= 0, (key, m)
        elif not m["signed"]:
            assert m["value"] > 0, (key, m)


def test_ratios_are_computed_within_each_repeat(quick):
    report, _ = quick
    metrics = _metrics(report)
    for ratio, (num, den) in RATIOS.items():
        if (ratio in WRK_KEYS and not WRK) or ratio in AIPERF_KEYS:
            continue
        for i, value in enumerate(metrics[ratio]["runs"]):
            assert value == pytest.approx(metrics[num]["runs"][i] / metrics[den]["runs"][i]), ratio


def test_targets_are_judged_only_where_one_is_set(quick):
    report, _ = quick
    judged = {k for k, m in _metrics(report).items() if m["target"]}
    assert judged == {"seed.ratio", "cpu.non_streaming_ms", "rate.ratio", "timing.ttft_p50_error_ms",
                      "timing.itl_p50_error_ms", "mix.big_rss_mb", "mix.rss_ratio", "load.rate_50_ratio",
                      "load.workers_ratio", "aiperf.cpu_ratio"}
    for key, m in _metrics(report).items():
        if m["skipped"]:
            assert m["met"] is None
        else:
            assert (m["met"] in (True, False)) if key in judged else m["met"] is None, key


def test_the_table_has_a_row_per_figure(quick):
    report, stdout = quick
    header = stdout.splitlines()[4]
    assert header.split() == ["metric", "value", "target", "met?"]
    assert "server and runner share them" in stdout
    assert "load average (1, 5, 15 min):" in stdout
    assert len(report["load_average"]["start"]) == 3 and len(report["load_average"]["end"]) == 3
    for m in report["metrics"]:
        assert m["label"] in stdout
    assert report["table"] in stdout


def test_without_aiperf_its_rows_are_skipped_with_a_reason(quick):
    report, stdout = quick
    for key in AIPERF_KEYS:
        m = _metrics(report)[key]
        assert m["value"] is None and m["met"] is None and m["runs"] == []
        assert m["skipped"].startswith("aiperf not installed"), m
    assert "skipped: aiperf not installed" in stdout


def test_wrk_rate_is_measured_when_wrk_is_installed(quick):
    if not WRK:
        pytest.skip("wrk is not installed: the benchmark reports its rows as skipped")
    metrics = _metrics(quick[0])
    assert metrics["rate.wrk_rps"]["value"] > 0 and not metrics["rate.wrk_rps"]["skipped"]


def test_without_wrk_its_rows_are_skipped_with_a_reason(tmp_path):
    report, stdout = _bench(tmp_path, "--no-wrk", "--only", "cpu")
    metrics = _metrics(report)
    assert [m["key"] for m in report["metrics"]] == [k for k in KEYS if k.startswith(("cpu.", "rate."))]
    for key in WRK_KEYS:
        assert metrics[key]["value"] is None and metrics[key]["met"] is None
        assert "wrk not found" in metrics[key]["skipped"]
    assert metrics["rate.runner_rps"]["value"] > 0
    assert "skipped: wrk not found" in stdout


def _bench_module():
    spec = importlib.util.spec_from_file_location("fakeai_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module      # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


WRK_OUTPUT = """Running 3s test @ http://127.0.0.1:1/v1/chat/completions
  1 threads and 32 connections
  5829 requests in 3.02s, 2.68MB read
Requests/sec:   1929.48
Transfer/sec:      0.89MB
"""


def test_parse_wrk_reads_the_rate_and_refuses_error_answers():
    bench = _bench_module()
    assert bench.parse_wrk(WRK_OUTPUT) == 1929.48
    with pytest.raises(ValueError, match="12 non-2xx"):
        bench.parse_wrk(WRK_OUTPUT.replace("Requests/sec", "  Non-2xx or 3xx responses: 12\nRequests/sec"))
    with pytest.raises(ValueError, match="no Requests/sec"):
        bench.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_median_and_verdict_of_a_metric():
    bench = _bench_module()
    m = bench.Metric("k", "label", "ms", runs=[3.0, 1.0, 2.0], target="<= 1.5", meets=lambda v: v <= 1.5)
    assert m.value == 2.0 and m.met is False
    assert bench.Metric("k", "label", "ms").value is None
    assert bench.Metric("k", "label", "ms", runs=[1.0]).met is None


def test_markdown_table_has_a_row_per_figure_and_says_skipped():
    bench = _bench_module()
    rows = [bench.Metric("a.x", "first", "ms", runs=[1.0, 3.0], target="<= 1.5", meets=lambda v: v <= 1.5).to_dict(),
            bench.Metric("a.y", "second", "x", skipped="aiperf not installed").to_dict()]
    assert bench.markdown(rows).splitlines() == ["| metric | value | target | met? |", "|---|---|---|---|",
                                                 "| first | 2.000 ms | <= 1.5 | no |", "| second | - |  | skipped |"]
