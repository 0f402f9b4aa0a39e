"""A misbehaving server is a finding, never a crash: each way of misbehaving fails the right entry."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fakeai_contract.lifecycle import free_port
from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

SMALL = str(Path(__file__).parent / "data" / "contracts" / "hardening" / "small.yaml")
WALL = 15.0
TRACEBACK = "Traceback (most recent call last)"

#: mode → {entry id: (status, text its message must contain)}; every other entry must not fail
#: unless it reads what the broken entry should have delivered (listed in _DEPENDENT).
CASES = {
    "health_503": {"health": ("fail", "HTTP 503")},
    "health_html": {"health": ("fail", "expected JSON, got text/html")},
    "chat_500": {"load/non-streaming/1": ("fail", "HTTP 500: The server had an error"),
                 "load/streaming/2": ("fail", "HTTP 500")},
    "chat_not_json": {"load/non-streaming/1": ("fail", "expected JSON, got text/plain"),
                      "load/streaming/1": ("fail", "expected text/event-stream, got text/plain")},
    "chat_reset": {"load/non-streaming/1": ("fail", "connection reset"),
                   "load/streaming/1": ("fail", "cut off by a connection reset after 2 chunks")},
    "stream_truncated": {"load/streaming/1": ("fail", "stream ended without data: [DONE]"),
                         "load/streaming/2": ("fail", "after 3 chunks")},
    "stream_stall": {"load/streaming/1": ("fail", "within the deadline of 2s after 1 chunks")},
    "stream_invalid_json": {"load/streaming/1": ("fail", "chunk 3 is not valid JSON")},
    "metrics_invalid_json": {"endpoint/metrics": ("fail", "invalid JSON"),
                             "schema/metrics": ("error", "/metrics did not answer")},
    "metrics_wrong_types": {"schema/metrics": ("fail", "'4' is not of type 'integer'"),
                            "schema/errors": ("fail", "None is not of type 'number'"),
                            "check/metrics-total-requests": ("fail", "(str), not a number"),
                            "check/errors-error-rate": ("fail", "null is null; expected number")},
    "metrics_hang": {"endpoint/metrics": ("fail", "within the deadline of 2s")},
    "metrics_trickle": {"endpoint/metrics": ("fail", "within the deadline of 2s")},
    "metrics_huge": {"endpoint/metrics": ("fail", "exceeds the cap of 8388608 bytes")},
    "metrics_huge_chunked": {"endpoint/metrics": ("fail", "exceeds the cap of 8388608 bytes")},
    "redirect_loop": {"endpoint/metrics": ("fail", "too many redirects")},
    "metrics_nan": {"endpoint/metrics": ("fail", "invalid JSON (NaN is not a JSON value)")},
    "metrics_deep": {"endpoint/metrics": ("fail", "invalid JSON (maximum recursion depth exceeded")},
    "metrics_gzip_bomb": {"endpoint/metrics": ("fail", "exceeds the cap of 8388608 bytes")},
    "metrics_bad_gzip": {"endpoint/metrics": ("fail", "could not be decompressed: Can not decode content-encoding: gzip")},
    "metrics_not_http": {"endpoint/metrics": ("fail", "invalid HTTP response")},
    "wrong_model": {"check/responses/non-streaming/model": ("fail", "asked for 'gpt-4', the answer names 'some-other-model'"),
                    "check/responses/streaming/model": ("fail", "the answer names 'some-other-model'")},
    "bad_usage": {"check/responses/non-streaming/usage": ("fail", "total_tokens 15 != prompt_tokens 9 + completion_tokens 5"),
                  "check/responses/streaming/usage": ("fail", "!= prompt_tokens 9")},
    "counts_disagree": {"check/request-count-consistency": ("fail", "metrics.total_requests = 14; expected 4")},
    "events_never_published": {"check/event-bus-activity": ("fail", "events.events_published = 0; expected > 0")},
}

#: Entries that read /metrics: when it does not answer they cannot be evaluated.
_READS_METRICS = {"schema/metrics", "check/metrics-total-requests", "check/metrics-requests-per-second",
                  "check/metrics-avg-response-time", "check/request-count-consistency"}
_DEPENDENT = {
    "metrics_invalid_json": _READS_METRICS, "metrics_hang": _READS_METRICS,
    "metrics_trickle": _READS_METRICS, "metrics_huge": _READS_METRICS,
    "metrics_huge_chunked": _READS_METRICS, "redirect_loop": _READS_METRICS,
    "metrics_nan": _READS_METRICS, "metrics_deep": _READS_METRICS, "metrics_gzip_bomb": _READS_METRICS,
    "metrics_bad_gzip": _READS_METRICS, "metrics_not_http": _READS_METRICS,
    "chat_500": {"load/non-streaming/2", "load/streaming/1"},
    "chat_not_json": {"load/non-streaming/2", "load/streaming/2"},
    "chat_reset": {"load/non-streaming/2", "load/streaming/2"},
    "stream_stall": {"load/streaming/2"},
    "stream_invalid_json": {"load/streaming/2"},
    "metrics_wrong_types": {"check/errors-total-errors", "check/request-count-consistency",
                            "check/slo-rate-consistency"},
}


def _run(url: str, *extra: str):
    t0 = time.monotonic()
    result = run_cli("run", SMALL, "--base-url", url, "--report", "json:-", "--no-color", *extra)
    return result, time.monotonic() - t0


def _entries(result) -> dict[str, dict]:
    return {e["id"]: e for e in result.ledger["entries"]}


def _assert_clean(result, elapsed: float) -> None:
    assert TRACEBACK not in result.out and TRACEBACK not in result.err, result.err[-2000:]
    assert "this is a bug in fakeai-contract" not in result.err
    assert elapsed < WALL, f"the run took {elapsed:.1f}s"


@pytest.mark.timeout(60)
def test_well_behaved_server_passes_the_small_contract():
    with MisbehavingServer("ok") as server:
        result, elapsed = _run(server.url)
    _assert_clean(result, elapsed)
    bad = [(e["id"], e["message"]) for e in result.ledger["entries"] if e["status"] in ("fail", "error", "warn")]
    assert result.code == 0, bad
    assert result.ledger["summary"]["verdict"] == "PASS"


@pytest.mark.timeout(60)
def test_well_behaved_server_passes_the_shipped_contract():
    with MisbehavingServer("ok") as server:
        result, elapsed = _run(server.url)
        shipped = run_cli("run", "fakeai-final", "--base-url", server.url, "--report", "json:-", "--no-color")
    assert shipped.code == 0, [(e["id"], e["message"]) for e in shipped.ledger["entries"] if e["status"] == "fail"]
    assert shipped.ledger["client"]["requests"]["total"] == 20
    assert TRACEBACK not in shipped.out + shipped.err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", sorted(CASES))
def test_misbehaviour_fails_the_right_entry(mode):
    with MisbehavingServer(mode) as server:
        result, elapsed = _run(server.url)
    _assert_clean(result, elapsed)
    assert result.code == 1, result.err[-2000:]
    entries = _entries(result)
    for entry_id, (status, text) in CASES[mode].items():
        assert entry_id in entries, sorted(entries)
        entry = entries[entry_id]
        assert entry["status"] == status, entry
        assert text in entry["message"], entry["message"]
    allowed = set(CASES[mode]) | _DEPENDENT.get(mode, set())
    if mode.startswith("health"):
        allowed |= {e for e in entries if entries[e]["status"] == "skip"}
    unexpected = {e["id"]: e["message"] for e in entries.values()
                  if e["status"] in ("fail", "error") and e["id"] not in allowed}
    assert not unexpected, unexpected
    assert result.ledger["summary"]["exit_code"] == 1
    assert result.ledger["interrupted"] is False


@pytest.mark.timeout(60)
def test_unhealthy_server_skips_every_later_phase():
    with MisbehavingServer("health_503") as server:
        result, elapsed = _run(server.url)
    _assert_clean(result, elapsed)
    entries = _entries(result)
    assert entries["health"]["observed"]["http_status"] == 503
    assert entries["health"]["observed"]["attempts"] >= 2          # it polled, it did not give up at once
    later = [e for e in entries.values() if e["phase"] != "health"]
    assert later and all(e["status"] == "skip" for e in later), later
    assert result.ledger["summary"]["verdict"] == "FAIL"
    assert server.counters.requests == 0                           # no load was sent to a sick server


@pytest.mark.timeout(60)
def test_connection_refused_is_a_failed_health_check():
    url = f"http://127.0.0.1:{free_port()}"        # nothing listens there
    result, elapsed = _run(url)
    _assert_clean(result, elapsed)
    assert result.code == 1
    health = _entries(result)["health"]
    assert health["status"] == "fail"
    assert "cannot connect" in health["message"], health["message"]
    assert "not healthy within 2s" in health["message"]


@pytest.mark.timeout(60)
def test_stalled_stream_is_cut_at_the_request_deadline_not_the_read_timeout():
    with MisbehavingServer("stream_stall") as server:
        result, elapsed = _run(server.url, "--set", "REQUEST_TIMEOUT=1")
    _assert_clean(result, elapsed)
    stream = _entries(result)["load/streaming/1"]
    assert stream["status"] == "fail"
    assert 0.9 <= stream["observed"]["latency_s"] < 2.0, stream["observed"]
    assert stream["observed"]["chunks"] == 1


@pytest.mark.timeout(60)
def test_trickling_body_is_cut_at_the_deadline():
    with MisbehavingServer("metrics_trickle") as server:
        result, elapsed = _run(server.url, "--set", "REQUEST_TIMEOUT=1")
    _assert_clean(result, elapsed)
    metrics = _entries(result)["endpoint/metrics"]
    assert metrics["status"] == "fail"
    assert "within the deadline of 1s" in metrics["message"]
    assert metrics["duration_s"] < 1.8


@pytest.mark.timeout(60)
def test_huge_body_is_refused_without_reading_it_whole():
    with MisbehavingServer("metrics_huge_chunked") as server:
        result, elapsed = _run(server.url)
    _assert_clean(result, elapsed)
    metrics = _entries(result)["endpoint/metrics"]
    assert metrics["status"] == "fail"
    # it stopped at the cap: never more than the cap plus one read was taken in
    assert metrics["observed"]["bytes"] <= 8 * 1024 * 1024 + 1024 * 1024


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fmt", ["junit", "tap", "markdown"])
def test_findings_reach_every_report_format(tmp_path, fmt):
    path = tmp_path / f"report.{fmt}"
    with MisbehavingServer("stream_truncated") as server:
        result = run_cli("run", SMALL, "--base-url", server.url, "--report", f"{fmt}:{path}", "--no-color")
    assert result.code == 1
    text = path.read_text()
    assert "stream ended without data:" in text and "after 3 chunks" in text
    assert TRACEBACK not in text + result.out + result.err
