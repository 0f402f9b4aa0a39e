"""Unit tests of the reference server's pure parts: validation, completions, trackers, bus, faults."""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time

import pytest

from fakeai_contract.reference import MISSING_EXTRA, ReferenceOptions
from fakeai_contract.reference.bus import Event, EventBus
from fakeai_contract.reference.cli import add_arguments, options_from_args
from fakeai_contract.reference.completion import NATURAL_TOKENS, ChunkWriter, completion_tokens
from fakeai_contract.reference.faults import DROP_AFTER_TOKENS, Faults
from fakeai_contract.reference.timing import PreciseSelector
from fakeai_contract.reference.trackers import ErrorTracker, RateWindow, RequestTracker, StreamTracker
from fakeai_contract.reference.validation import ApiError, parse_chat_request

from tests.helpers import poll_async
from tests.reference_helpers import parse_sse


def _body(**fields) -> bytes:
    base = {"model": "gpt-4", "messages": [{"role": "user", "content": "one two three"}]}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


# --- validation -----------------------------------------------------------------------------

BAD_BODIES = [
    (b"{not json", None, "invalid_json"),
    (b"[1, 2]", None, "invalid_json"),
    (_body(model=...), "model", "missing_required_parameter"),
    (_body(model=42), "model", "invalid_type"),
    (_body(model=""), "model", "invalid_type"),
    (_body(messages=...), "messages", "missing_required_parameter"),
    (_body(messages=[]), "messages", "empty_array"),
    (_body(messages="hello"), "messages", "invalid_type"),
    (_body(messages=["hello"]), "messages[0]", "invalid_type"),
    (_body(messages=[{"role": "robot", "content": "x"}]), "messages[0].role", "invalid_value"),
    (_body(messages=[{"role": "user", "content": 5}]), "messages[0].content", "invalid_type"),
    (_body(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text",
     "invalid_type"),
    (_body(stream="yes"), "stream", "invalid_type"),
    (_body(max_tokens=0), "max_tokens", "integer_below_min_value"),
    (_body(max_tokens=2.5), "max_tokens", "invalid_type"),
    (_body(max_tokens=True), "max_tokens", "invalid_type"),
    (_body(temperature=3), "temperature", "invalid_value"),
    (_body(temperature="hot"), "temperature", "invalid_type"),
    (_body(stream=True, stream_options={"include_usage": "yes"}), "stream_options.include_usage", "invalid_type"),
]


@pytest.mark.parametrize("raw, param, code", BAD_BODIES)
def test_invalid_bodies_name_the_parameter(raw, param, code):
    with pytest.raises(ApiError) as info:
        parse_chat_request(raw)
    err = info.value
    assert err.status == 400
    assert err.body() == {"error": {"message": err.message, "type": "invalid_request_error",
                                    "param": param, "code": code}}
    assert err.message


def test_valid_body_counts_prompt_words_over_all_messages():
    raw = json.dumps({"model": "m", "stream": True, "max_tokens": 7,
                      "stream_options": {"include_usage": True},
                      "messages": [{"role": "system", "content": "be  brief"},
                                   {"role": "user", "content": [{"type": "text", "text": "a b c"},
                                                                {"type": "image_url", "image_url": {}}]},
                                   {"role": "assistant", "content": None}]}).encode()
    chat = parse_chat_request(raw)
    assert (chat.model, chat.stream, chat.max_tokens, chat.include_usage, chat.prompt_tokens) == ("m", True, 7, True, 5)


def test_prompt_tokens_at_least_one_and_nulls_mean_absent():
    chat = parse_chat_request(_body(messages=[{"role": "user", "content": ""}], max_tokens=None,
                                    temperature=None, stream=None))
    assert chat.prompt_tokens == 1 and chat.max_tokens is None and chat.stream is False
    assert parse_chat_request(_body(stream_options={"include_usage": True})).include_usage is False


# --- completions ----------------------------------------------------------------------------

@pytest.mark.parametrize("max_tokens, count, reason", [
    (None, NATURAL_TOKENS, "stop"), (1, 1, "length"), (NATURAL_TOKENS - 1, NATURAL_TOKENS - 1, "length"),
    (NATURAL_TOKENS, NATURAL_TOKENS, "stop"), (500, NATURAL_TOKENS, "stop")])
def test_completion_length_honours_max_tokens(max_tokens, count, reason):
    tokens, finish = completion_tokens(max_tokens)
    assert (len(tokens), finish) == (count, reason)
    assert len("".join(tokens).split()) == count      # one word per token
    assert completion_tokens(max_tokens) == (tokens, finish)  # deterministic


def test_chunk_writer_frames_events_in_openai_shape():
    writer = ChunkWriter("chatcmpl-1", 123, "m", include_usage=True)
    raw = writer.role() + writer.content("Hi") + writer.finish("stop") + writer.usage(
        {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2})
    chunks = [json.loads(p) for p in parse_sse(raw)]
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"] * 4
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[3]["choices"] == [] and chunks[3]["usage"]["total_tokens"] == 2
    assert [c["usage"] for c in chunks[:3]] == [None, None, None]
    plain = json.loads(parse_sse(ChunkWriter("i", 1, "m", include_usage=False).content("x"))[0])
    assert "usage" not in plain


# --- trackers -------------------------------------------------------------------------------

def _event(kind: str, at: float = 0.0, **data) -> Event:
    return Event(kind, at, data)


def _finish_ok(tracker_set, model="a", at=1.0, prompt=2, completion=3):
    for tracker in tracker_set:
        handler = tracker.subscriptions().get("request.completed")
        if handler:
            handler(_event("request.completed", at, model=model, stream=False, prompt_tokens=prompt,
                           completion_tokens=completion, duration_s=0.5))


def _finish_err(tracker_set, model="a", status=500, kind="server_error", at=1.0):
    for tracker in tracker_set:
        handler = tracker.subscriptions().get("request.failed")
        if handler:
            handler(_event("request.failed", at, model=model, stream=False, status=status, error_type=kind,
                           message="boom", timestamp=1.0, duration_s=0.25))


def test_request_and_error_trackers_agree_and_miscount_only_touches_metrics():
    requests_, errors = RequestTracker(), ErrorTracker()
    both = (requests_, errors)
    for _ in range(3):
        _finish_ok(both)
    _finish_err(both, model="b")
    _finish_err(both, model="b", status=400, kind="invalid_request_error")
    metrics = requests_.snapshot(now=2.0, uptime_s=10.0, miscount=4)
    errs = errors.snapshot()
    assert metrics["total_requests"] == 5 + 4
    assert metrics["successful_requests"] + metrics["failed_requests"] == 5 == errs["total_requests"]
    assert metrics["total_tokens"] == {"prompt": 6, "completion": 9, "total": 15}
    assert metrics["by_model"] == {"a": {"requests": 3, "errors": 0, "tokens": 15},
                                   "b": {"requests": 2, "errors": 2, "tokens": 0}}
    assert metrics["avg_response_time"] == pytest.approx((3 * 0.5 + 2 * 0.25) / 5)
    assert errs["errors_by_status"] == {"500": 1, "400": 1}
    assert errs["errors_by_type"] == {"server_error": 1, "invalid_request_error": 1}
    assert errs["error_rate"] == pytest.approx(0.4)
    slo = errors.slo(0.99)
    assert slo["success_rate"] == pytest.approx(0.6) and slo["error_budget_remaining"] == 0.0
    assert slo["slo_met"] is False and slo["failed_requests"] == 2


def test_slo_with_no_requests_and_partial_budget():
    errors = ErrorTracker()
    assert errors.snapshot()["error_rate"] == 0.0
    assert errors.slo(0.9)["success_rate"] == 1.0 and errors.slo(0.9)["error_budget_remaining"] == 1.0
    for _ in range(19):
        _finish_ok([errors])
    _finish_err([errors])
    slo = errors.slo(0.9)  # error rate 0.05 of a 0.10 budget: half left
    assert slo["error_budget_remaining"] == pytest.approx(0.5) and slo["slo_met"] is True


def test_error_phantoms_touch_the_counts_and_slo_rates_but_not_the_rate_breakdowns_or_verdict():
    errors = ErrorTracker(phantoms=3)
    assert errors.snapshot()["total_errors"] == 0 and errors.slo(0.9)["success_rate"] == 1.0   # none before traffic
    for _ in range(6):
        _finish_ok([errors])
    _finish_err([errors])
    errs, slo = errors.snapshot(), errors.slo(0.5)
    assert (errs["total_requests"], errs["total_errors"]) == (7 + 3, 1 + 3)
    assert errs["error_rate"] == pytest.approx(1 / 7) and errs["errors_by_type"] == {"server_error": 1}
    assert slo["success_rate"] == pytest.approx(0.6) and slo["error_budget_remaining"] == pytest.approx(0.2)
    assert slo["slo_met"] is True                  # 6/7 of the true requests succeeded: >= 0.5
    assert errors.slo(0.65)["slo_met"] is True and errors.slo(0.65)["success_rate"] < 0.65


def test_stream_phantoms_touch_only_the_total():
    streams = StreamTracker(phantoms=2)
    handlers = streams.subscriptions()
    assert streams.snapshot()["total_streams"] == 0
    handlers["stream.started"](_event("stream.started", model="m"))
    handlers["stream.completed"](_event("stream.completed", model="m", chunks=4, itl=[0.001], duration_s=0.1))
    snap = streams.snapshot()
    assert [snap[k] for k in ("total_streams", "successful_streams", "failed_streams", "active_streams")] == [3, 1, 0, 0]


def test_recent_errors_keep_the_last_ten():
    errors = ErrorTracker()
    for i in range(15):
        _finish_err([errors], model=f"m{i}")
    recent = errors.snapshot()["recent_errors"]
    assert [e["model"] for e in recent] == [f"m{i}" for i in range(5, 15)]
    assert set(recent[0]) == {"timestamp", "model", "status", "type", "message"}


def test_stream_tracker_percentiles_and_counts():
    streams = StreamTracker()
    handlers = streams.subscriptions()
    assert streams.snapshot()["ttft_percentiles"] is None and streams.snapshot()["itl_percentiles"] is None
    for i, ttft in enumerate([0.01, 0.02, 0.03, 0.04, 0.05]):
        handlers["stream.started"](_event("stream.started", model="m"))
        handlers["stream.first_token"](_event("stream.first_token", model="m", ttft_s=ttft))
        handlers["stream.completed"](_event("stream.completed", model="m", chunks=4, itl=[0.001 * (i + 1)],
                                            duration_s=0.1))
    handlers["stream.started"](_event("stream.started", model="m"))
    handlers["stream.failed"](_event("stream.failed", model="m", chunks=1, duration_s=0.1))
    handlers["stream.started"](_event("stream.started", model="n"))
    snap = streams.snapshot()
    counts = [snap[k] for k in ("total_streams", "successful_streams", "failed_streams", "active_streams")]
    assert counts == [6, 5, 1, 1]
    assert snap["ttft_percentiles"]["p50"] == pytest.approx(0.03)
    assert snap["ttft_percentiles"]["p90"] == pytest.approx(0.046)   # linear interpolation
    assert snap["itl_percentiles"]["p50"] == pytest.approx(0.003)
    assert snap["avg_chunks_per_stream"] == pytest.approx(21 / 6)
    assert snap["by_model"]["m"]["streams"] == 6 and snap["by_model"]["n"]["active"] == 1


def test_rate_window_counts_only_the_last_minute():
    window = RateWindow(window_s=60)
    for t in (0.5, 1.5, 100.2, 100.7, 130.0):
        window.add(t)
    assert window.rate(now=130.5, uptime_s=1000.0) == pytest.approx(3 / 60)
    assert window.rate(now=130.5, uptime_s=10.0) == pytest.approx(3 / 10)
    assert window.rate(now=500.0, uptime_s=1000.0) == 0.0


# --- event bus ------------------------------------------------------------------------------

def test_bus_applies_in_order_and_counts_depth():
    async def scenario():
        bus = EventBus()
        seen = []
        bus.subscribe({"a": lambda e: seen.append(e.data["n"]), "b": lambda e: seen.append(-1)})
        bus.start()
        for n in range(5):
            bus.publish("a", n=n)
        bus.publish("b")
        depth_before = bus.queue_depth
        await poll_async(lambda: not bus.queue_depth, 5, interval=0.001, what="the bus to drain")
        await bus.stop()
        return bus, seen, depth_before
    bus, seen, depth_before = asyncio.run(scenario())
    assert depth_before == 6 and seen == [0, 1, 2, 3, 4, -1]
    assert bus.published == bus.processed == 6
    assert dict(bus.published_by_type) == {"a": 5, "b": 1} and bus.subscriber_count == 2


def test_bus_never_publishes_the_unpublished_types():
    bus = EventBus(unpublished=frozenset({"b"}))
    seen = []
    bus.subscribe({"a": lambda e: seen.append("a"), "b": lambda e: seen.append("b")})
    for kind in ("a", "b", "a"):
        bus.publish(kind)
    assert seen == ["a", "a"] and bus.published == bus.processed == 2
    assert dict(bus.published_by_type) == {"a": 2}


def test_bus_lag_is_per_event_and_does_not_accumulate():
    lag = 0.15

    async def scenario():
        bus = EventBus(lag=lag)
        applied_at = []
        bus.subscribe({"x": lambda e: applied_at.append(time.monotonic() - e.published_at)})
        bus.start()
        start = time.monotonic()
        for _ in range(20):
            bus.publish("x")
        await asyncio.sleep(lag / 3)
        mid_depth = bus.queue_depth
        await poll_async(lambda: not bus.queue_depth, 5, interval=0.005, what="the bus to drain")
        took = time.monotonic() - start
        await bus.stop()
        return applied_at, mid_depth, took
    applied_at, mid_depth, took = asyncio.run(scenario())
    assert mid_depth == 20
    assert min(applied_at) >= lag
    assert took < lag + 0.5   # twenty events are not 20 x lag


def test_bus_survives_a_failing_handler(caplog):
    bus = EventBus()

    def broken(event):
        raise RuntimeError("tracker bug")
    bus.subscribe({"x": broken})
    bus.publish("x")   # not started: applied at once
    assert bus.processed == 1
    assert "tracker bug" in caplog.text


# --- faults ---------------------------------------------------------------------------------

def test_faults_are_reproducible_under_a_seed_and_independent():
    def run(seed):
        f = Faults(0.5, 0.5, seed)
        return [f.should_fail() for _ in range(64)], [f.drop_after(10) for _ in range(64)]
    a, b, c = run(7), run(7), run(8)
    assert a == b and a != c
    assert 10 < sum(a[0]) < 54
    assert set(a[1]) == {None, DROP_AFTER_TOKENS}
    # The error draws do not depend on how many drop draws happened in between.
    f = Faults(0.5, 0.5, 7)
    interleaved = []
    for _ in range(64):
        interleaved.append(f.should_fail())
        f.drop_after(10)
    assert interleaved == a[0]


def test_fault_rates_zero_and_one_are_absolute():
    assert not any(Faults(0.0, 0.0, 1).should_fail() for _ in range(100))
    assert all(Faults(1.0, 1.0).should_fail() for _ in range(100))
    assert Faults(0, 1.0).drop_after(2) == 2


# --- options and command line ---------------------------------------------------------------

def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_defaults_match_options_except_port():
    options = options_from_args(_parse())
    assert options == ReferenceOptions(port=8765)


def test_cli_options_round_trip():
    args = _parse("--host", "0.0.0.0", "--port", "0", "--latency", "0", "--ttft", "0.2", "--itl", "0.01",
                  "--error-rate", "0.25", "--drop-stream-rate", "1", "--miscount", "3", "--event-lag", "0.5",
                  "--log-errors", "--seed", "9", "--slo-target", "0.95", "--access-log", "--miscount-errors", "2",
                  "--miscount-streams", "1", "--unpublished", "request.started, stream.completed")
    assert options_from_args(args) == ReferenceOptions(
        host="0.0.0.0", port=0, latency=0.0, ttft=0.2, itl=0.01, error_rate=0.25, drop_stream_rate=1.0,
        miscount=3, event_lag=0.5, log_errors=True, seed=9, slo_target=0.95, access_log=True, miscount_errors=2,
        miscount_streams=1, unpublished=("request.started", "stream.completed"))


@pytest.mark.parametrize("argv", [["--error-rate", "1.5"], ["--itl", "-1"], ["--miscount", "x"],
                                  ["--slo-target", "1"], ["--port", "70000"], ["--miscount-streams", "-1"],
                                  ["--unpublished", "request.start"]])
def test_cli_rejects_bad_values_with_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _parse(*argv)
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_options_validate_programmatic_use():
    with pytest.raises(ValueError, match="error_rate"):
        ReferenceOptions(error_rate=2)
    with pytest.raises(ValueError, match="ttft"):
        ReferenceOptions(ttft=-0.1)
    with pytest.raises(ValueError, match="miscount_errors"):
        ReferenceOptions(miscount_errors=-1)
    with pytest.raises(ValueError, match="unknown event type stream.ended"):
        ReferenceOptions(unpublished=("stream.ended",))


def test_serve_without_the_reference_extra_exits_2_with_one_line():
    code = ("import sys; sys.modules['uvicorn'] = None; sys.argv = ['serve'];"
            "import runpy; runpy.run_module('fakeai_contract.reference', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.strip() == MISSING_EXTRA
    assert done.stdout == ""


# --- timing ---------------------------------------------------------------------------------

@pytest.mark.timing          # a wake-up a fraction of a millisecond late is the measurement
def test_precise_selector_wakes_within_a_fraction_of_a_millisecond():
    # Plain epoll rounds these up to the next millisecond (0.0035 -> 4 ms; 0.009 often -> 10 ms).
    selector = PreciseSelector()
    try:
        for timeout in (0.0004, 0.002, 0.0035, 0.009, 0.0123):
            overshoots = []
            for _ in range(5):
                start = time.monotonic()
                assert selector.select(timeout) == []
                overshoots.append(time.monotonic() - start - timeout)
            assert min(overshoots) >= 0, timeout          # never early
            assert min(overshoots) < 0.0004, (timeout, overshoots)
    finally:
        selector.close()
