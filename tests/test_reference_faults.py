"""Each fault option's effect as seen from outside, and the `serve` process's life cycle."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import pytest

from fakeai_contract.reference import ReferenceOptions, ReferenceServer, spawn_reference

from tests.reference_helpers import (CHAT, chat_body, drained, get_json, json_chunks, parse_sse, session, stream_raw,
                               wait_until)

pytestmark = pytest.mark.timeout(90)

INJECTED = {"type": "server_error", "param": None, "code": "internal_error"}
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture
def http():
    with session() as s:
        yield s


def _server(**options) -> ReferenceServer:
    options.setdefault("latency", 0.0)
    options.setdefault("ttft", 0.002)
    options.setdefault("itl", 0.0005)
    return ReferenceServer(ReferenceOptions(**options))


def test_error_rate_one_answers_500_with_an_openai_body_before_any_stream_byte(http):
    with _server(error_rate=1.0) as srv:
        r = http.post(srv.base_url + CHAT, json=chat_body(model="gpt-4"), timeout=5)
        assert r.status_code == 500
        error = r.json()["error"]
        assert {k: error[k] for k in INJECTED} == INJECTED and error["message"]
        r = http.post(srv.base_url + CHAT, json=chat_body(model="claude-3-opus", stream=True), timeout=5)
        assert r.status_code == 500 and r.headers["content-type"] == "application/json"
        assert r.json()["error"]["code"] == "internal_error"
        snap = drained(http, srv.base_url)
        assert snap["errors"]["total_errors"] == snap["errors"]["total_requests"] == 2
        assert snap["errors"]["errors_by_status"] == {"500": 2}
        assert snap["errors"]["errors_by_type"] == {"server_error": 2}
        assert snap["errors"]["errors_by_model"] == {"gpt-4": 1, "claude-3-opus": 1}
        assert snap["errors"]["error_rate"] == 1.0
        assert snap["slo"]["success_rate"] == 0.0 and snap["slo"]["slo_met"] is False
        # a streaming request refused before its first byte is a stream that failed
        assert snap["streaming"]["total_streams"] == snap["streaming"]["failed_streams"] == 1
        assert snap["streaming"]["successful_streams"] == 0 and snap["streaming"]["active_streams"] == 0
        assert snap["metrics"]["total_errors"] == 2


def _statuses(seed: int, n: int = 40) -> list[int]:
    with _server(error_rate=0.5, seed=seed) as srv, session() as http:
        return [http.post(srv.base_url + CHAT, json=chat_body(), timeout=5).status_code for _ in range(n)]


def test_same_seed_gives_the_same_sequence_of_failures():
    first, again, other = _statuses(11), _statuses(11), _statuses(12)
    assert set(first) == {200, 500}
    assert first == again
    assert first != other


def _stream_ends(seed: int, n: int = 24) -> list[bool]:
    with _server(drop_stream_rate=0.5, seed=seed) as srv, session() as http:
        return [parse_sse(stream_raw(http, srv.base_url, chat_body(stream=True))[2])[-1] == b"[DONE]"
                for _ in range(n)]


def test_same_seed_gives_the_same_sequence_of_dropped_streams():
    first = _stream_ends(5)
    assert set(first) == {True, False}
    assert first == _stream_ends(5)


def test_dropped_stream_is_cut_before_done_but_counted_successful(http):
    with _server(drop_stream_rate=1.0) as srv:
        status, _, raw = stream_raw(http, srv.base_url, chat_body(stream=True, max_tokens=50,
                                                                stream_options={"include_usage": True}))
        assert status == 200
        payloads = parse_sse(raw)
        assert b"[DONE]" not in payloads
        chunks = json_chunks(payloads)
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert len(chunks) == 1 + 3 and all(c["choices"][0]["finish_reason"] is None for c in chunks)
        snap = drained(http, srv.base_url)
        assert snap["streaming"]["successful_streams"] == snap["streaming"]["total_streams"] == 1
        assert snap["streaming"]["failed_streams"] == 0
        assert snap["errors"]["total_errors"] == 0 and snap["metrics"]["total_requests"] == 1
        # Non-streaming requests are untouched.
        assert http.post(srv.base_url + CHAT, json=chat_body(), timeout=5).json()["choices"][0]["finish_reason"]


def test_miscount_puts_metrics_total_off_by_exactly_n(http):
    with _server(miscount=7) as srv:
        for _ in range(3):
            http.post(srv.base_url + CHAT, json=chat_body(), timeout=5).raise_for_status()
        stream_raw(http, srv.base_url, chat_body(stream=True))
        snap = drained(http, srv.base_url)
        assert snap["errors"]["total_requests"] == 4
        assert snap["metrics"]["total_requests"] - snap["errors"]["total_requests"] == 7
        assert snap["slo"]["total_requests"] == 4


def test_event_lag_keeps_events_queued_then_metrics_catch_up(http):
    with _server(event_lag=1.0) as srv:
        http.post(srv.base_url + CHAT, json=chat_body(), timeout=5).raise_for_status()
        events = get_json(http, srv.base_url, "/metrics/events")
        assert events["queue_depth"] > 0 and events["event_lag_s"] == 1.0
        assert events["events_processed"] < events["events_published"]
        assert get_json(http, srv.base_url, "/metrics")["total_requests"] == 0
        snap = drained(http, srv.base_url, timeout=5)
        assert snap["metrics"]["total_requests"] == snap["errors"]["total_requests"] == 1


def test_slo_target_option(http):
    with _server(slo_target=0.5, error_rate=1.0) as srv:
        http.post(srv.base_url + CHAT, json=chat_body(), timeout=5)
        slo = drained(http, srv.base_url)["slo"]
        assert slo["slo_target"] == 0.5 and slo["error_budget_remaining"] == 0.0


@pytest.mark.timing
def test_ttft_and_itl_options_shape_the_stream(http):
    with _server(ttft=0.08, itl=0.02) as srv:
        stream_raw(http, srv.base_url, chat_body(stream=True, max_tokens=6))
        streaming = drained(http, srv.base_url)["streaming"]
        assert 0.08 <= streaming["ttft_percentiles"]["p50"] < 0.1
        assert streaming["itl_percentiles"]["p50"] == pytest.approx(0.02, abs=0.003)


# --- the subprocess ------------------------------------------------------------------------

def test_log_errors_writes_a_traceback_to_stderr_for_each_500(tmp_path, http):
    log = tmp_path / "server.log"
    with spawn_reference(["--error-rate", "1", "--log-errors"], log_path=log) as proc:
        for _ in range(3):
            assert http.post(proc.base_url + CHAT, json=chat_body(), timeout=5).status_code == 500
        wait_until(lambda: proc.log_text().count(TRACEBACK) == 3)
        assert "InjectedServerError" in proc.log_text() and "ERROR" in proc.log_text()
    assert proc.returncode == 0


def test_normal_operation_logs_no_error_words_and_stops_cleanly_on_sigterm(http):
    proc = spawn_reference(["--error-rate", "0.5", "--seed", "3"])
    try:
        first_line = proc.log_text().splitlines()[0]
        assert re.fullmatch(r"fakeai-contract reference server listening on http://127\.0\.0\.1:\d+", first_line)
        assert first_line.endswith(f":{proc.base_url.rsplit(':', 1)[1]}")
        statuses = {http.post(proc.base_url + CHAT, json=chat_body(), timeout=5).status_code for _ in range(10)}
        assert statuses == {200, 500}   # 500s are served, but not logged without --log-errors
        stream_raw(http, proc.base_url, chat_body(stream=True))
        http.post(proc.base_url + CHAT, data="bad", timeout=5)
    finally:
        code = proc.stop()
    assert code == 0
    assert not re.search(r"ERROR|CRITICAL|Traceback", proc.log_text()), proc.log_text()


def test_sigint_also_stops_with_exit_0():
    proc = spawn_reference()
    proc.popen.send_signal(signal.SIGINT)
    assert proc.popen.wait(10) == 0
    proc.stop()


def test_access_log_is_off_by_default_and_on_when_asked(http):
    with spawn_reference(["--access-log"]) as proc:
        get_json(http, proc.base_url, "/health")
        wait_until(lambda: "GET /health" in proc.log_text())
    with spawn_reference() as quiet:
        get_json(http, quiet.base_url, "/health")
        quiet.stop()
        assert "GET /health" not in quiet.log_text()


def test_busy_port_exits_1_with_a_message():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        port = holder.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "fakeai_contract.reference", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    finally:
        holder.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert TRACEBACK not in done.stderr


def test_bad_option_exits_2():
    done = subprocess.run([sys.executable, "-m", "fakeai_contract.reference", "--error-rate", "2"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--error-rate" in done.stderr


def test_stop_is_bounded_with_a_stream_still_open():
    import threading
    import time

    srv = _server(ttft=0.0, itl=1.0).start()
    outcome = {}

    def client():
        with session() as s:
            try:
                outcome["ends"] = parse_sse(stream_raw(s, srv.base_url, chat_body(stream=True, max_tokens=50),
                                                       timeout=30)[2])[-1]
            except Exception as exc:  # the server going away mid-stream is the expected outcome
                outcome["error"] = exc
    worker = threading.Thread(target=client)
    worker.start()
    wait_until(lambda: srv.state.streams.started == 1)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 6
    worker.join(10)
    assert not worker.is_alive()
    assert outcome.get("ends") != b"[DONE]"
