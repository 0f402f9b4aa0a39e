"""Each phase over the in-memory transport (no sockets): what it returns for what the server answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fakeai_contract.context import RunOptions
from fakeai_contract.contract import load_contract
from fakeai_contract.ledger import Status
from fakeai_contract.phases import endpoints as endpoint_phase
from fakeai_contract.phases.checks import run_checks
from fakeai_contract.phases.health import wait_healthy
from fakeai_contract.phases.logs import check_logs
from fakeai_contract.phases.traffic import run_traffic
from fakeai_contract.runner import new_context, new_ledger, run_phases
from tests.fake_transport import Answer, FakeTransport, chat, refused

CONTRACT = """\
contract: unit
version: 1
target: {base_url: "http://fake.invalid", request_timeout: 1}
health: {path: /health, timeout: 0.3, interval: 0.01, schema: health.schema.json}
load:
  models: [m1, m2]
  concurrency: 2
  mix:
    - {name: plain, count: 2, body: {messages: [{role: user, content: hi}]},
       response_schema: chat_completion.schema.json}
    - {name: streamed, count: 2, body: {messages: [{role: user, content: hi}], stream: true},
       chunk_schema: chat_completion_chunk.schema.json}
settle: {until: "events.queue_depth == `0`", timeout: 0.5, interval: 0.01}
endpoints:
  events: {path: /metrics/events}
  metrics: {path: /metrics}
checks:
  - {name: served what was sent, that: delta.metrics.total_requests, equals: client.requests.total}
  - {name: queue drained, that: events.queue_depth, equals: 0, eventually: {timeout: 0.3, interval: 0.01},
     tags: [events]}
logs: {fail_on: [Traceback]}
"""
HEALTHY = Answer(body={"status": "healthy", "ready": True})


@pytest.fixture(scope="module")
def contract(tmp_path_factory):
    path = tmp_path_factory.mktemp("phases") / "unit.yaml"
    path.write_text(CONTRACT, encoding="utf-8")
    return load_contract(path, env={})


def _ctx(contract, **options):
    return new_context(contract, RunOptions(**options))


def _run(coroutine):
    return asyncio.run(coroutine)


# --- health ---------------------------------------------------------------------------------------

def test_health_polls_until_ready(contract):
    fake = FakeTransport({("GET", "/health"): [Answer(503, b"starting"), Answer(body={"status": "up", "ready": False}),
                                               HEALTHY]})
    result = _run(wait_healthy(_ctx(contract), fake))
    assert result.healthy and result.entry.status is Status.PASS
    assert result.entry.observed["attempts"] == 3 and result.document == HEALTHY.body


def test_health_that_never_answers_fails_at_its_timeout_saying_why(contract):
    fake = FakeTransport({("GET", "/health"): refused()})
    result = _run(wait_healthy(_ctx(contract), fake))
    assert not result.healthy and result.entry.status is Status.FAIL
    assert "cannot connect" in result.entry.message and result.entry.observed["attempts"] >= 2


def test_a_last_poll_without_an_answer_still_reports_what_the_server_last_answered(contract):
    """A 503, then a poll the wait's own deadline cut short: the message keeps the 503."""
    from fakeai_contract.transport_failures import Failure, Kind

    timed_out = Answer(failure=Failure(Kind.TIMEOUT, "no complete answer within the deadline of 0.05s"))
    fake = FakeTransport({("GET", "/health"): [Answer(503, b"starting"), timed_out]})
    result = _run(wait_healthy(_ctx(contract), fake))
    assert not result.healthy and result.entry.observed["attempts"] >= 2
    message = result.entry.message
    assert "last: no complete answer within the deadline of 0.05s" in message
    assert "attempt 1 was answered HTTP 503" in message, message


def test_health_answer_waiting_cannot_change_ends_the_wait_at_once(contract):
    fake = FakeTransport({("GET", "/health"): Answer(404, {"detail": "Not Found"})})
    result = _run(wait_healthy(_ctx(contract), fake))
    assert not result.healthy and result.entry.observed["attempts"] == 1
    assert "waiting does not change that answer" in result.entry.message


def test_health_document_against_its_schema(contract):
    fake = FakeTransport({("GET", "/health"): Answer(body={"status": 3, "ready": True})})
    result = _run(wait_healthy(_ctx(contract), fake))
    assert result.entry.status is Status.FAIL
    assert "health document does not match health.schema.json: $.status: 3 is not of type 'string'" \
        in result.entry.message


# --- traffic --------------------------------------------------------------------------------------

def _traffic(contract, route):
    sunk = []
    fake = FakeTransport({("POST", "/v1/chat/completions"): route})
    result = _run(run_traffic(_ctx(contract), fake, sink=sunk.append))
    return {e.id: e for e in (*sunk, *result.entries)}, result, fake


def test_traffic_sends_the_mix_and_counts_what_came_back(contract):
    entries, result, fake = _traffic(contract, chat())
    requests = [e for e in entries.values() if "request" in e.tags]
    assert len(requests) == 4 and all(e.status is Status.PASS for e in requests), requests
    assert sorted(body["model"] for _, _, body in fake.calls) == ["m1", "m1", "m2", "m2"]
    assert result.client["requests"] == {"total": 4, "succeeded": 4, "failed": 0, "streaming": 2, "non_streaming": 2}
    assert result.client["streams"]["done_markers"] == 2 and result.client["streams"]["chunks"] == 10
    responses = {i: e.status for i, e in entries.items() if i.startswith(("schema/", "check/responses"))}
    assert responses["check/responses/plain/usage"] is Status.PASS and responses["schema/responses/streamed"] is Status.PASS
    assert set(responses.values()) <= {Status.PASS, Status.SKIP}, responses     # streams carry no usage here


def test_traffic_fails_an_answer_naming_another_model(contract):
    entries, _, _ = _traffic(contract, chat(model_of=lambda asked: "other"))
    assert entries["check/responses/plain/model"].status is Status.FAIL
    assert "the answer names 'other'" in entries["check/responses/plain/model"].message
    assert entries["check/responses/streamed/model"].status is Status.FAIL


def test_traffic_fails_a_stream_cut_before_done(contract):
    entries, result, _ = _traffic(contract, chat(done=False))
    streamed = [e for i, e in entries.items() if i.startswith("load/streamed/")]
    assert streamed and all(e.status is Status.FAIL for e in streamed)
    assert all("stream ended without data: [DONE] after 5 chunks" in e.message for e in streamed)
    assert result.client["requests"]["failed"] == 2


def test_traffic_fails_a_chunk_that_breaks_its_schema(contract):
    def route(body):
        answer = chat()(body)
        if answer.arrivals:
            answer.arrivals[1] = answer.arrivals[1].replace(b'"object": "chat.completion.chunk"', b'"object": 7')
        return answer
    entries, _, _ = _traffic(contract, route)
    schema = entries["schema/responses/streamed"]
    assert schema.status is Status.FAIL and "chunk 2: $.object: 'chat.completion.chunk' was expected" in schema.message


# --- settle and endpoints -------------------------------------------------------------------------

def _document_for(after):
    return {**after, "before": {}, "delta": {}, "client": {}, "health": {}, "vars": {}}


def test_settle_polls_until_it_holds_then_takes_a_fresh_snapshot(contract):
    fake = FakeTransport({("GET", "/metrics/events"): [Answer(body={"queue_depth": d}) for d in (3, 1, 0, 0)],
                          ("GET", "/metrics"): Answer(body={"total_requests": 4})})
    settled = _run(endpoint_phase.settle(_ctx(contract), fake, _document_for))
    assert settled.entry.status is Status.PASS and settled.entry.observed["polls"] == 3
    assert [p for _, p, _ in fake.calls].count("/metrics/events") == 4         # three polls, then fresh
    assert endpoint_phase.documents(settled.fetched) == {"events": {"queue_depth": 0}, "metrics": {"total_requests": 4}}


def test_settle_that_never_holds_warns_and_the_checks_run_on_what_is_there(contract):
    fake = FakeTransport({("GET", "/metrics/events"): Answer(body={"queue_depth": 2}),
                          ("GET", "/metrics"): Answer(body={})})
    settled = _run(endpoint_phase.settle(_ctx(contract), fake, _document_for))
    assert settled.entry.status is Status.WARN and "did not hold within 0.5s" in settled.entry.message


def test_an_endpoint_that_fails_fails_its_entry(contract):
    fake = FakeTransport({("GET", "/metrics/events"): Answer(body={"queue_depth": 0}),
                          ("GET", "/metrics"): Answer(500, {"error": {"message": "boom"}})})
    fetched = _run(endpoint_phase.snapshot(_ctx(contract), fake))
    entries = {e.id: e for e in endpoint_phase.endpoint_entries(_ctx(contract), fetched)}
    assert entries["endpoint/events"].status is Status.PASS
    assert entries["endpoint/metrics"].status is Status.FAIL and entries["endpoint/metrics"].message == "HTTP 500: boom"


# --- checks ---------------------------------------------------------------------------------------

def _doc(depth: int, served: int = 4, sent: int = 4) -> dict:
    return {"events": {"queue_depth": depth}, "metrics": {"total_requests": served}, "before": {},
            "delta": {"metrics": {"total_requests": served}}, "client": {"requests": {"total": sent}},
            "health": {}, "vars": {}}


def test_checks_hold_fail_and_an_eventually_check_refetches_until_it_holds(contract):
    depths = iter([2, 0])
    asked = []

    async def rebuild(names):
        asked.append(names)
        return _doc(next(depths), served=5)

    entries = _run(run_checks(_ctx(contract), _doc(3, served=5), rebuild))
    assert [e.status for e in entries] == [Status.FAIL, Status.PASS]
    assert entries[0].message == "delta.metrics.total_requests = 5; expected 4"
    assert asked == [["events"], ["events"]]          # only what the eventually check reads


def test_an_eventually_check_that_never_holds_fails_after_its_timeout(contract):
    async def rebuild(names):
        return _doc(1)

    entries = _run(run_checks(_ctx(contract, only=("events",)), _doc(1), rebuild))
    assert entries[0].status is Status.SKIP and "--only events" in entries[0].message
    assert entries[1].status is Status.FAIL and entries[1].duration_s >= 0.25     # it waited, it did not give up


# --- logs -----------------------------------------------------------------------------------------

class _Lines:
    description = "the test's lines"

    def __init__(self, *lines: str):
        self.lines = lines

    def iter_lines(self):
        return enumerate(self.lines, start=1)


def test_logs_fail_on_a_pattern_and_skip_without_a_source(contract):
    found = check_logs(_ctx(contract, log_source=_Lines("started", "Traceback (most recent call last):", "  x")))
    assert found.status is Status.FAIL and found.observed["findings"][0]["line"] == 2
    assert check_logs(_ctx(contract, log_source=_Lines("all good"))).status is Status.PASS
    assert check_logs(_ctx(contract)).status is Status.SKIP


# --- the runner over the fake ---------------------------------------------------------------------

def _server(depth_after: int = 0):
    served = {"n": 0}

    def count(body):
        served["n"] += 1
        return chat()(body)
    return FakeTransport({
        ("GET", "/health"): HEALTHY,
        ("POST", "/v1/chat/completions"): count,
        ("GET", "/metrics/events"): lambda _: Answer(body={"queue_depth": depth_after if served["n"] else 0}),
        ("GET", "/metrics"): lambda _: Answer(body={"total_requests": served["n"]}),
    })


def test_the_runner_records_every_phase_in_order(contract):
    ledger = _run(run_phases(_ctx(contract), _server(), new_ledger(contract)))
    phases = [e.phase for e in ledger.entries]
    assert phases[0] == "health" and phases[-1] == "logs"
    assert ledger.summary()["verdict"] == "PASS", [(e.id, e.message) for e in ledger.entries if e.status is not Status.PASS]
    assert ledger.client["requests"]["total"] == 4


def test_the_runner_skips_everything_after_a_health_wait_that_failed(contract):
    ledger = _run(run_phases(_ctx(contract), FakeTransport({("GET", "/health"): refused()}), new_ledger(contract)))
    assert ledger.entries[0].status is Status.FAIL
    assert all(e.status is Status.SKIP for e in ledger.entries[1:])
    assert ledger.summary()["verdict"] == "FAIL"


NOPE = Path(__file__).parent / "data" / "contracts" / "healing" / "nope_endpoint.yaml"
#: What /metrics/nope answers, its status, and why neither wait goes on.
ANSWERS = {
    "404": (None, 404, "stopped waiting: /metrics/nope answered HTTP 404, which waiting does not change"),
    "a page, not JSON": (Answer(200, b"<html>metrics</html>", content_type="text/html"), 200,
                         "stopped waiting: /metrics/nope answered HTTP 200 with no JSON, which waiting does not change"),
}


@pytest.mark.parametrize("answer", ANSWERS)
def test_an_endpoint_that_cannot_heal_ends_settle_and_eventually_early_with_the_reason(answer):
    """Both waits are 5 s; an endpoint answering 404, or a 2xx that is not JSON, ends each at once,
    and the entries say why."""
    route, status, why = ANSWERS[answer]
    contract = load_contract(NOPE, env={})
    routes = {("GET", "/health"): HEALTHY, ("POST", "/v1/chat/completions"): chat()}
    if route is not None:
        routes[("GET", "/metrics/nope")] = route
    fake = FakeTransport(routes)
    ledger = _run(run_phases(_ctx(contract), fake, new_ledger(contract)))
    entries = {e.id: e for e in ledger.entries}
    settle, check = entries["settle"], entries["check/nope-has-events"]
    assert entries["endpoint/nope"].observed["http_status"] == status
    assert why in settle.message and settle.observed["polls"] == 1 and settle.duration_s < 1.0
    assert check.status in (Status.FAIL, Status.ERROR) and why in check.message and check.duration_s < 1.0
    assert ledger.summary()["exit_code"] == 1
    # before the load, then settle's one poll; the check does not ask again what cannot change
    assert [p for _, p, _ in fake.calls].count("/metrics/nope") == 2
