"""End to end: open-loop rates, intended-time latency under a stall, duration runs, and the
client's own saturation warning, against the real reference server on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fakeai_contract.lifecycle import ServerProcess, free_port
from fakeai_contract.reference.process import spawn_reference

pytestmark = [pytest.mark.slow, pytest.mark.timing, pytest.mark.timeout(120)]

DATA = Path(__file__).parent / "data" / "contracts" / "measure"
PACED = str(DATA / "paced.yaml")
CLOSED = str(DATA / "closed.yaml")
STREAMS = str(DATA / "streams.yaml")


def run(cli, contract: str, *args: str, sets: dict | None = None, reference: tuple[str, ...] = ()):
    argv = ["run", contract, "--report", "json:-", "--quiet", *args]
    if "--base-url" not in args:
        argv.append("--serve-reference")
    argv += [f"--reference-arg={a}" for a in reference]
    for k, v in (sets or {}).items():
        argv += ["--set", f"{k}={v}"]
    return cli(*argv)


def entry(ledger: dict, id: str) -> dict | None:
    return next((e for e in ledger["entries"] if e["id"] == id), None)


@pytest.mark.timing(cores=2)
def test_rate_200_for_10_seconds_is_achieved_within_5_percent(cli):
    r = run(cli, PACED, sets={"RATE": 200, "DURATION": 10, "MAX_IN_FLIGHT": 256, "MAX_P90": 1},
            reference=("--latency", "0.002", "--ttft", "0.002", "--itl", "0.0005"))
    assert r.code == 0, r.err
    load = r.ledger["client"]["load"]
    assert load["mode"] == "open" and load["requested_rate"] == 200
    assert load["requests"] == 2000
    assert load["requests_per_second"] == pytest.approx(200, rel=0.05)
    assert r.ledger["client"]["requests"]["total"] == 2000
    # a duration run aggregates its requests: the ledger stays bounded
    assert not [e for e in r.ledger["entries"] if e["id"].count("/") == 2 and e["id"].split("/")[-1].isdigit()]


@pytest.mark.timing(seconds=4)
def test_a_stall_shows_in_intended_time_latency_and_hides_in_actual_time_latency(cli):
    """A server that stops answering for 0.5 s while at most two requests are in flight: the
    requests due meanwhile (half of a 1 s run) leave late. Measured from when they left, they look fast; measured from
    when they were due, they carry the stall. The contract's check on intended latency fails."""
    stall = ("--stall-after", "40", "--stall", "0.5")
    r = run(cli, PACED, sets={"RATE": 100, "DURATION": 1, "MAX_IN_FLIGHT": 2, "MAX_P90": 0.1}, reference=stall)
    client = r.ledger["client"]
    assert client["latency_s"]["p90"] < 0.1, client["latency_s"]          # actual time: hidden
    assert client["intended"]["latency_s"]["p90"] > 0.15, client["intended"]  # intended time: shown
    assert client["intended"]["send_delay_s"]["max"] > 0.3
    check = entry(r.ledger, "check/latency-from-the-intended-send-time")
    assert check["status"] == "fail" and r.code == 1
    # The same server and stall under closed-loop load: the latency figures hide it.
    closed = run(cli, CLOSED, sets={"CONCURRENCY": 2, "DURATION": 1, "MAX_P90": 0.1}, reference=stall)
    assert closed.code == 0, closed.ledger["summary"]
    assert "intended" not in closed.ledger["client"]
    assert closed.ledger["client"]["latency_s"]["p90"] < 0.1
    assert closed.ledger["client"]["load"]["mode"] == "closed"


def test_poisson_arrivals_are_seeded_and_reach_the_rate(cli):
    r = run(cli, PACED, sets={"RATE": 100, "DURATION": 1, "ARRIVAL": "poisson"})
    assert r.code == 0
    load = r.ledger["client"]["load"]
    assert load["arrival"] == "poisson" and 60 <= load["requests"] <= 140      # 100 +- 4 standard deviations


def test_closed_loop_duration_run_stops_on_time(cli):
    r = run(cli, CLOSED, sets={"CONCURRENCY": 4, "DURATION": 1})
    assert r.code == 0
    load = r.ledger["client"]["load"]
    assert load["mode"] == "closed" and load["concurrency"] == 4
    assert 1.0 <= load["wall_s"] < 1.5 and load["requests"] > 20


@pytest.mark.timing(seconds=3)
def test_a_saturated_client_warns_and_names_what_it_skewed(cli, tmp_path):
    """Many concurrent streams of hundreds of chunks each from a server that writes them at once:
    one client process cannot keep up, and says so."""
    port = free_port()
    command = [sys.executable, str(Path(__file__).parent / "firehose_server.py"), str(port), "400"]
    with ServerProcess(command, log_path=tmp_path / "firehose.log"):
        r = run(cli, STREAMS, "--base-url", f"http://127.0.0.1:{port}", sets={"DURATION": 2, "CONCURRENCY": 100})
    warning = entry(r.ledger, "client/saturation")
    assert warning is not None, r.ledger["client"]["runner"]
    assert warning["status"] == "warn" and r.code == 0, r.ledger["summary"]   # a warning never fails the run
    assert "TTFT" in warning["message"] and "bottleneck" in warning["message"]
    assert r.ledger["client"]["runner"]["saturated"]
    assert r.ledger["client"]["streams"]["completed"] > 0


@pytest.mark.timing(seconds=12)
def test_quiet_runs_never_warn_about_saturation(cli):
    with spawn_reference() as server:
        for _ in range(20):
            r = run(cli, PACED, "--base-url", server.base_url, sets={"RATE": 40, "DURATION": 0.6})
            assert r.code == 0, r.ledger["summary"]
            runner = r.ledger["client"]["runner"]
            assert runner["samples"] >= 10
            assert entry(r.ledger, "client/saturation") is None, runner


@pytest.mark.timing(cores=2)
def test_two_workers_merge_exactly(cli):
    """Counts add up and the merged percentiles are those of every request's own latency."""
    from fakeai_contract.expr import percentile

    r = run(cli, "fakeai-final", "--workers", "2")
    assert r.code == 0, r.ledger["summary"]
    client = r.ledger["client"]
    assert client["runner"]["workers"] == 2 and client["load"]["workers"] == 2
    assert client["requests"]["total"] == 20 and client["streams"]["completed"] == 10
    requests = [e for e in r.ledger["entries"] if e["phase"] == "load" and e["id"].split("/")[-1].isdigit()]
    assert sorted(e["observed"]["index"] for e in requests) == list(range(1, 21))
    latencies = sorted(e["observed"]["latency_s"] for e in requests)
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        assert client["latency_s"][key] == pytest.approx(percentile(latencies, q), abs=2e-6)
    assert client["latency_s"]["max"] == pytest.approx(latencies[-1], abs=2e-6)
    assert r.ledger["timeline"]["total"] == 20


@pytest.mark.timing(cores=2)
def test_two_workers_keep_an_open_loop_rate(cli):
    r = run(cli, PACED, "--workers", "2", sets={"RATE": 100, "DURATION": 2})
    assert r.code == 0, r.ledger["summary"]
    load = r.ledger["client"]["load"]
    assert load["workers"] == 2 and load["requested_rate"] == 100
    assert load["requests"] == 200
    assert load["requests_per_second"] == pytest.approx(100, rel=0.1)


@pytest.mark.parametrize("bad", ["0", "x", "65"])
def test_bad_worker_counts_are_a_usage_error(cli, bad):
    r = cli("run", "--workers", bad, "--base-url", "http://127.0.0.1:9")
    assert r.code == 2 and "--workers" in r.err


@pytest.mark.timing(cores=2)
def test_off_a_tty_the_progress_line_counts_the_requests_of_every_worker(cli, monkeypatch):
    """With --workers 2 the periodic line off a TTY adds up what the workers have finished."""
    import re

    from fakeai_contract.commands.run import _Progress

    monkeypatch.setattr(_Progress, "PERIOD_S", 0.25)
    r = cli("run", CLOSED, "--serve-reference", "--report", "json:-", "--workers", "2",
            "--set", "CONCURRENCY=4", "--set", "DURATION=1.5")
    assert r.code == 0, r.err
    line = re.compile(r"^load: (\d+) done, (\d+) failed, (\d+\.\d)s of 1\.5s \(2 workers\)$")
    lines = [line.match(text) for text in r.err.splitlines() if text.startswith("load: ")]
    assert len(lines) >= 3 and all(lines), r.err
    done = [int(m.group(1)) for m in lines]
    assert done == sorted(done) and done[0] > 0 and done[-1] > done[0]
    total = r.ledger["client"]["requests"]["total"]
    assert done[-1] <= total and all(m.group(2) == "0" for m in lines)
    # more than one worker's share: the count passes what either worker sent alone
    assert done[-1] > total / 2
