"""The reference server's /metrics/prometheus, and the fakeai-prometheus contract against it.

The contract uses only metric(), delta.<endpoint> and the histogram functions; it passes on a clean
server and each of its checks fails under the fault it guards against.
"""

from __future__ import annotations

import pytest

from fakeai_contract import expr, prometheus
from fakeai_contract.contract import load_contract
from fakeai_contract.reference import ReferenceOptions, ReferenceServer

from tests.reference_helpers import CHAT, chat_body, get_json, session, stream_raw, wait_until

pytestmark = pytest.mark.timeout(120)


def scrape(http, base_url: str, accept: str | None = None) -> dict:
    r = http.get(base_url + "/metrics/prometheus", headers={"Accept": accept} if accept else {}, timeout=5)
    assert r.status_code == 200
    return prometheus.parse(r.text, r.headers["content-type"])


def value(doc: dict, expression: str):
    return expr.search(expression, {"d": doc})


def settled(http, base_url: str) -> dict:
    """The exposition once every published event has been applied."""
    wait_until(lambda: get_json(http, base_url, "/metrics/events")["queue_depth"] == 0)
    return scrape(http, base_url)


def _traffic(http, base_url: str) -> None:
    for i in range(3):
        assert stream_raw(http, base_url, chat_body(stream=True, max_tokens=4))[0] == 200
    assert http.post(base_url + CHAT, json=chat_body(model="gpt-3.5-turbo", max_tokens=5), timeout=5).status_code == 200
    assert http.post(base_url + CHAT, json={"model": "gpt-4"}, timeout=5).status_code == 400


@pytest.mark.timing     # the recorded TTFT is held within 3 ms of what was served
def test_counts_requests_by_model_and_status_tokens_and_one_observation_each():
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.004, itl=0.002)) as srv, session() as http:
        _traffic(http, srv.base_url)
        d = settled(http, srv.base_url)
    assert value(d, "metric(d, 'fakeai_chat_requests_total{model=\"gpt-4\", status=\"200\"}')") == 3
    assert value(d, "metric(d, 'fakeai_chat_requests_total{model=\"gpt-3.5-turbo\"}')") == 1
    assert value(d, "metric(d, 'fakeai_chat_requests_total{status=\"400\"}')") == 1
    assert value(d, "metric(d, 'fakeai_completion_tokens_total')") == 3 * 4 + 5
    assert value(d, "histogram_count(d, 'fakeai_time_to_first_token_seconds')") == 3      # streams only
    assert value(d, "histogram_count(d, 'fakeai_inter_token_latency_seconds')") == 3 * 3
    assert value(d, "histogram_count(d, 'fakeai_request_latency_seconds')") == 5          # the 400 too
    assert value(d, "metric(d, 'fakeai_requests_running')") == 0
    ttft = value(d, "histogram_mean(d, 'fakeai_time_to_first_token_seconds')")
    assert 0.004 <= ttft < 0.004 + 0.003                                                # what it served


@pytest.mark.timing     # the recorded TTFT is held within 3 ms (times the skew) of what was served
def test_prom_skew_scales_the_durations_it_records_and_nothing_else():
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.004, itl=0.002, prom_skew=5.0)) as srv, session() as http:
        _traffic(http, srv.base_url)
        d = settled(http, srv.base_url)
        streaming = get_json(http, srv.base_url, "/metrics/streaming")
    assert 5 * 0.004 <= value(d, "histogram_mean(d, 'fakeai_time_to_first_token_seconds')") < 5 * 0.007
    assert value(d, "histogram_mean(d, 'fakeai_inter_token_latency_seconds')") >= 5 * 0.0015
    assert streaming["ttft_percentiles"]["p50"] < 0.007                                 # the stream's real timing
    assert value(d, "metric(d, 'fakeai_chat_requests_total')") == 5


def test_miscount_shows_in_the_request_counter_only():
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.002, itl=0.001, miscount=4)) as srv, session() as http:
        d0 = scrape(http, srv.base_url)
        _traffic(http, srv.base_url)
        d = settled(http, srv.base_url)
    assert value(d0, "metric(d, 'fakeai_chat_requests_total')") is None                 # nothing before traffic
    delta = prometheus.delta(d, d0)
    assert value(delta, "metric(d, 'fakeai_chat_requests_total{status=\"200\"}')") == 4 + 4
    assert value(delta, "metric(d, 'fakeai_completion_tokens_total')") == 3 * 4 + 5


def test_error_rate_shows_in_the_status_labels():
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.002, itl=0.001, error_rate=1.0)) as srv, \
            session() as http:
        for _ in range(3):
            assert http.post(srv.base_url + CHAT, json=chat_body(), timeout=5).status_code == 500
        d = settled(http, srv.base_url)
    assert value(d, "metric(d, 'fakeai_chat_requests_total{status=\"500\"}')") == 3
    assert value(d, "metric(d, 'fakeai_chat_requests_total{status=\"200\"}')") is None


def test_openmetrics_when_asked():
    with ReferenceServer(ReferenceOptions(latency=0.0, ttft=0.002, itl=0.001)) as srv, session() as http:
        _traffic(http, srv.base_url)
        wait_until(lambda: get_json(http, srv.base_url, "/metrics/events")["queue_depth"] == 0)
        d = scrape(http, srv.base_url, accept="application/openmetrics-text; version=1.0.0")
    assert d["_format"] == "openmetrics"
    assert value(d, "metric(d, 'fakeai_chat_requests_total')") == 5
    assert value(d, "histogram_count(d, 'fakeai_time_to_first_token_seconds')") == 3


# --- the fakeai-prometheus contract end to end -------------------------------------------------

def bad(ledger: dict) -> dict[str, str]:
    return {e["id"]: e["message"] for e in ledger["entries"] if e["status"] in ("fail", "error")}


def run(cli, *args: str):
    return cli("run", "fakeai-prometheus", "--serve-reference", *args, "--report", "json:-", "--quiet")


COUNTS = {"check/chat-requests-counted-equal-requests-sent", "check/every-request-answered-200"}
TIMING = {"check/server-ttft-p50-is-no-later-than-the-client-s", "check/server-itl-p50-agrees-with-the-client-s",
          "check/server-latency-mean-is-no-more-than-the-client-s",
          "check/server-ttft-total-is-no-more-than-the-client-s-p99-per-stream"}
STATUS = {"check/every-request-answered-200", "check/no-server-error"}
#: the fault, the checks that must catch it, and checks that must not fail under it
FAULTS = {
    "--miscount=3": (COUNTS, TIMING | {"check/no-server-error", "check/completion-tokens-equal-usage"}),
    "--prom-skew=3": (TIMING, COUNTS | STATUS),
    "--error-rate=0.3": (STATUS, {"check/chat-requests-counted-equal-requests-sent"}),
}


@pytest.mark.timing
def test_contract_passes_on_a_clean_reference_server(cli):
    r = run(cli)
    assert r.code == 0, bad(r.ledger)
    ids = {c.id for c in load_contract("fakeai-prometheus").checks}
    assert {e["id"]: e["status"] for e in r.ledger["entries"] if e["id"] in ids} == dict.fromkeys(ids, "pass")


# Under miscount the timing checks must still pass, and under the skew they must fail against the
# client's own timing (its p99 TTFT among them): both read a clock, so they run alone.
@pytest.mark.parametrize("fault", [pytest.param(f, marks=pytest.mark.timing) if f in ("--miscount=3", "--prom-skew=3")
                                   else f for f in FAULTS])
def test_each_check_fails_under_the_fault_it_guards_against(cli, fault):
    r = run(cli, f"--reference-arg={fault}", "--reference-arg=--seed=3")
    caught, spared = FAULTS[fault]
    assert r.code == 1
    assert caught <= set(bad(r.ledger)), bad(r.ledger)
    assert not spared & set(bad(r.ledger)), bad(r.ledger)


UNDER = "check/server-ttft-p50-is-no-earlier-than-the-client-s-less-the-slack"


# The clean one holds every timing check, ITL agreement with the client's among them: it reads a clock.
@pytest.mark.parametrize("skew, fails", [pytest.param("1", False, marks=pytest.mark.timing(seconds=2)), ("0.3", True)])
def test_a_server_under_reporting_its_first_token_fails_the_guard(cli, skew, fails):
    """At 0.3 s first tokens a server recording 0.3 x its TTFT is far below the client's less the slack."""
    r = run(cli, "--reference-arg=--ttft=0.3", f"--reference-arg=--prom-skew={skew}")
    assert (UNDER in bad(r.ledger)) is fails, bad(r.ledger)
    assert r.code == (1 if fails else 0), bad(r.ledger)


def test_counts_read_before_the_server_applied_them_fail(cli):
    """Events applied 0.5 s late and a 0.2 s settle: every count and histogram is short."""
    r = run(cli, "--reference-arg=--event-lag=0.5", "--set", "SETTLE_TIMEOUT=0.2")
    failed = bad(r.ledger)
    assert r.code == 1
    assert {"check/prompt-tokens-equal-usage", "check/completion-tokens-equal-usage",
            "check/one-ttft-observation-per-completed-stream", "check/one-latency-observation-per-request"} <= set(failed)


@pytest.mark.parametrize("args, message", [
    (["--prom-skew", "0"], "expected a factor > 0"),
    (["--prom-skew", "inf"], "expected a factor > 0"),
    (["--flavor", "vllm", "--prom-skew", "2"], "with a flavor use timing_skew"),
])
def test_bad_prom_skew_is_refused_before_listening(cli, args, message):
    r = cli("serve", "--port", "0", *args)
    assert r.code == 2 and message in r.err


# --- declared metrics: the endpoint must expose what endpoints.<name>.metrics lists ---------------

def test_declared_metrics_are_checked_against_the_exposition(cli):
    r = run(cli)
    entry = next(e for e in r.ledger["entries"] if e["id"] == "metrics/prom")
    assert entry["status"] == "pass" and entry["phase"] == "schema"
    assert entry["expected"] == list(load_contract("fakeai-prometheus").endpoints["prom"].metrics)


def _declaring(tmp_path, names: list[str]):
    path = tmp_path / "declared.yaml"
    path.write_text("contract: declared\nversion: 1\nextends: [vllm]\nsettle: {until: '`true`', timeout: 0.1}\n"
                    "endpoints:\n  prom: {path: /metrics, format: prometheus, metrics: [" + ", ".join(names) + "]}\n"
                    "checks:\n" + "".join(f"  - {{name: {c}, remove: true}}\n" for c in (
                        "Every request finished by length", "No request finished by stop or abort",
                        "Prompt tokens equal usage", "Generation tokens equal usage", "Running requests back to 0",
                        "Waiting requests back to 0", "One TTFT observation per request", "One e2e latency per request",
                        "Server TTFT p50 is no later than the client's",
                        "Server TTFT p50 is no earlier than the client's less the slack",
                        "Server inter-token p50 agrees with the client's", "Server e2e mean is no more than the client's",
                        "Server e2e mean is no less than the client's less the slack")))
    return str(path)


VLLM_NAMES = ["vllm:request_success_total", "vllm:num_requests_running", "vllm:time_to_first_token_seconds"]


@pytest.mark.parametrize("flavor, declared, status, fragment", [
    ("vllm", VLLM_NAMES, "pass", ""),
    ("vllm", [*VLLM_NAMES, "vllm:no_such_metric_total"], "fail",
     "1 of 4 declared metrics are not exposed: vllm:no_such_metric_total"),
    # another kind of server: the entry says so before any check is read
    ("sglang", VLLM_NAMES, "fail", "none of the 3 declared metrics is exposed (it exposes"),
])
def test_a_server_missing_declared_metrics_fails_the_declaration(cli, tmp_path, flavor, declared, status, fragment):
    r = cli("run", _declaring(tmp_path, declared), "--serve-reference", f"--reference-arg=--flavor={flavor}",
            "--report", "json:-", "--quiet")
    entry = next(e for e in r.ledger["entries"] if e["id"] == "metrics/prom")
    assert entry["status"] == status, entry
    assert fragment in entry["message"]
    if flavor == "sglang":
        assert "sglang:" in entry["message"] and "is this the server the contract was written for?" in entry["message"]


def test_waits_stop_when_the_server_exposes_none_of_the_declared_metrics(cli, tmp_path):
    """The vllm pack's settle and eventually checks against SGLang's metrics: they stop at once and say
    why, instead of polling their whole timeouts (5 s and 3 s) for metrics that will never appear."""
    path = tmp_path / "declared.yaml"
    path.write_text("contract: declared\nversion: 1\nextends: [vllm]\nendpoints:\n  prom: {path: /metrics, "
                    "format: prometheus, metrics: [vllm:request_success_total, vllm:num_requests_running, "
                    "vllm:num_requests_waiting, vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds, "
                    "vllm:e2e_request_latency_seconds, vllm:prompt_tokens_total, vllm:generation_tokens_total]}\n")
    r = cli("run", str(path), "--serve-reference", "--reference-arg=--flavor=sglang", "--report", "json:-", "--quiet")
    entries = {e["id"]: e for e in r.ledger["entries"]}
    assert r.code == 1
    assert entries["metrics/prom"]["status"] == "fail"
    assert "stopped waiting: /metrics exposes none of its 8 declared metrics" in entries["settle"]["message"]
    waited = entries["check/running-requests-back-to-0"]
    assert waited["status"] == "fail" and "exposes none of its 8 declared metrics" in waited["message"]
    assert entries["settle"]["duration_s"] < 1 and waited["duration_s"] < 1
