"""The terminal report: the seed test's layout, colour only when asked, quiet and verbose modes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fakeai_contract.report import render

LEDGERS = Path(__file__).resolve().parent / "data" / "ledgers"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SEED_SECTIONS = ("Server Health Check", "Executing Test Load (20 Requests)", "Validating Metrics Endpoints",
                 "Validating Metrics Data", "Validating Data Consistency", "Checking for Exceptions",
                 "FINAL TEST REPORT", "Test Summary", "Request Summary")


def load(name: str) -> dict:
    return json.loads((LEDGERS / name).read_text())


def terminal(name: str, **options) -> str:
    return render("terminal", load(name), **options)


def test_seed_sections_in_the_seed_order():
    out = terminal("seed_pass.json")
    positions = [out.index(title) for title in SEED_SECTIONS]
    assert positions == sorted(positions)
    assert out.startswith("=" * 80 + "\n")
    assert "FakeAI Contract: fakeai-final-integration" in out.splitlines()[1]
    assert "-" * 80 + "\nServer Health Check\n" + "-" * 80 in out


def test_request_and_endpoint_lines_in_the_seed_format():
    lines = terminal("seed_pass.json").splitlines()
    assert "  [ 1/20] NORMAL | gpt-4                ... OK (0.101s)" in lines
    assert "  [ 3/20] NORMAL | gpt-3.5-turbo        ... OK (0.103s)" in lines
    assert "  [20/20] STREAM | claude-3-sonnet      ... OK (0.120s)" in lines
    assert "  /metrics                       ... OK (0.003s)" in lines
    assert "  /metrics/events                ... OK (0.003s)" in lines
    assert "✓ Server ready after 0.15s (3 attempts)" in lines
    assert "  Status: healthy" in lines


def test_field_checks_are_grouped_under_their_endpoint_path():
    out = terminal("seed_pass.json")
    block = out[out.index("Validating Metrics Data"):out.index("Validating Data Consistency")]
    assert "/metrics/events\n  ✓ events_published: 40\n  ✓ events_processed: 40\n  ✓ queue_depth: 0\n" in block
    assert "/metrics/slo\n  ✓ success_rate: 1.0\n" in block


def test_consistency_checks_show_observed_and_expected():
    out = terminal("mixed.json")
    assert ("Request Count Consistency:\n  observed: 23\n  expected: 20\n"
            "  ✗ metrics.total_requests = 23; expected 20 ± 2\n") in out
    assert "SLO Rate Consistency:\n  observed: 0.9\n  expected: 1.0\n  ! slo.success_rate" in out


def test_failures_show_message_observed_and_expected():
    lines = terminal("mixed.json").splitlines()
    i = lines.index("  [ 3/20] NORMAL | gpt-3.5-turbo        ... FAIL (0.103s): HTTP 500: upstream error")
    assert lines[i + 1].strip().startswith('observed: {"index": 3')
    assert lines[i + 2].strip() == 'expected: {"http_status": 200}'
    assert "  STREAM | gpt-4                ... FAIL (198/200 succeeded): 2 of 200 requests failed" in lines
    assert "      #17: stream ended before [DONE]" in lines
    assert "✗ 2 findings in 120 lines of server output" in lines
    assert "  line 57: Traceback (most recent call last):" in lines
    assert "  streaming-big chunks           ... FAIL (400 validated, 2 invalid): 2 of 400 chunks invalid" in lines


@pytest.mark.parametrize("name, verdict", [
    ("seed_pass.json", "✓ ALL TESTS PASSED (53/53)"),
    ("partial.json", "! PARTIAL PASS (51/52, 98.1%), 1 warning"),
    ("mixed.json", "✗ TESTS FAILED (48/59, 81.4%), 1 warning"),
    ("unhealthy_interrupted.json", "! INTERRUPTED: the run did not finish (0/1 of the checks that ran held)"),
])
def test_verdict_line(name, verdict):
    for options in ({}, {"quiet": True}, {"verbose": True}):
        assert terminal(name, **options).rstrip("\n").splitlines()[-1] == verdict


def test_summary_counts_every_status():
    out = terminal("mixed.json")
    for line in ("  Total Tests: 60", "  Passed: 47", "  Failed: 9", "  Errors: 2", "  Warned: 1",
                 "  Skipped: 1", "  Pass Rate: 81.4%", "  Duration: 12.50s", "  Total Requests: 20",
                 "  Successful: 17", "  Avg Duration: 0.171s"):
        assert line + "\n" in out


def test_interrupted_and_unhealthy_run():
    out = terminal("unhealthy_interrupted.json")
    assert "INTERRUPTED" in out
    assert "the server never became healthy within 45s: connection refused" in out
    assert "Request Summary" not in out          # the client section is empty
    assert "Executing Test Load (3 Requests)" in out
    assert "  - gpt-4 non-streaming #2                   ... SKIP: the server never became healthy" in out
    assert "INTERRUPTED" not in terminal("seed_pass.json")


def test_no_ansi_codes_without_color_and_some_with_it():
    for name in ("seed_pass.json", "mixed.json"):
        plain = terminal(name)
        assert "\x1b" not in plain
        coloured = terminal(name, color=True)
        assert ANSI.search(coloured)
        assert ANSI.sub("", coloured) == plain
    assert "\x1b[31m✗\x1b[0m" in terminal("mixed.json", color=True)
    assert "\x1b[32mOK\x1b[0m" in terminal("seed_pass.json", color=True)


def test_quiet_hides_passes_and_keeps_problems_and_the_summary():
    out = terminal("mixed.json", quiet=True)
    assert "[ 1/20]" not in out and "✓" not in out and "Server Health Check" not in out
    assert "ITL p99 bound" not in out                    # skipped: not a problem
    for name in ("gpt-3.5-turbo non-streaming #3", "Request Count Consistency", "SLO Rate Consistency",
                 "Prometheus Requests Counted", "Exception Monitoring", "/metrics/prometheus"):
        assert name in out
    assert "HTTP 500: upstream error" in out
    assert "60 checks: 47 passed, 9 failed, 2 errors, 1 warned, 1 skipped" in out
    assert len(terminal("seed_pass.json", quiet=True).splitlines()) == 3     # counts, latency, verdict


def test_the_summary_has_one_latency_line_from_the_client_percentiles():
    line = "p50/p90/p99 ms: TTFT 10.0/20.0/30.0 · ITL 2.0/3.0/- · end-to-end 150.0/230.0/250.0"
    for quiet in (False, True):
        assert terminal("seed_pass.json", quiet=quiet).count(line) == 1
    doc = load("seed_pass.json")
    doc["client"] = {"latency_s": {"p50": 0.001}}
    assert "p50/p90/p99 ms: end-to-end 1.0/-/-" in render("terminal", doc, quiet=True)
    doc["client"] = {}
    assert "p50/p90/p99" not in render("terminal", doc)


def test_verbose_shows_observed_and_expected_of_passing_entries():
    default, verbose = terminal("seed_pass.json"), terminal("seed_pass.json", verbose=True)
    assert '"http_status": 200, "latency_s": 0.101' in verbose and '"latency_s": 0.101' not in default
    assert 'expected: {"http_status": 200}' in verbose and 'expected: {"http_status": 200}' not in default
    assert "at: contracts/fakeai-final.yaml:24" in verbose


def test_odd_entries_still_render_in_their_section():
    doc = load("seed_pass.json")
    doc["entries"][1]["observed"] = "not a dict"
    doc["entries"].append({"id": "perf/x", "phase": "perf", "name": "Throughput", "status": "fail",
                           "observed": [1, 2], "expected": {"ge": 3}, "message": "too slow"})
    out = render("terminal", doc)
    assert "gpt-4 non-streaming #1" in out           # the generic line for an unexpected shape
    assert "Other Checks" in out and "Throughput" in out and "too slow" in out
