"""End to end: the strict contract holds the server's numbers against the client's.

The strict contract under miscount, error rate and dropped streams is in the data cases
tests/e2e/reference-*, and on a clean server in test_shipped_contracts.py; here are the runs that
need a server with a history, or timing."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from fakeai_contract.lifecycle import ServerProcess, free_port, reference_command
from tests.helpers import poll_async

pytestmark = [pytest.mark.timing, pytest.mark.timeout(180)]


def statuses(ledger: dict) -> dict[str, str]:
    return {e["id"]: e["status"] for e in ledger["entries"]}


def failing(ledger: dict) -> set[str]:
    return {e["id"] for e in ledger["entries"] if e["status"] in ("fail", "error")}


def run(cli, contract: str, *reference_args: str, sets: tuple[str, ...] = ()):
    argv = ["run", contract, "--serve-reference", "--report", "json:-", "--quiet"]
    argv += [f"--reference-arg={a}" for a in reference_args]
    for s in sets:
        argv += ["--set", s]
    return cli(*argv)


def test_strict_contract_passes_on_a_server_that_already_served_traffic(cli, tmp_path):
    """Deltas, not totals: 50 requests before the run do not disturb the counts."""
    port = free_port()
    with ServerProcess(reference_command([], port), log_path=tmp_path / "server.log") as server:
        base = f"http://127.0.0.1:{port}"

        async def warm():
            async with aiohttp.ClientSession() as s:
                async def healthy() -> bool:
                    try:
                        async with s.get(f"{base}/health") as resp:
                            return resp.status == 200
                    except aiohttp.ClientError:
                        return False
                await poll_async(healthy, 10, interval=0.05, what="the reference server to answer /health")
                for i in range(50):
                    body = {"model": "gpt-4", "messages": [{"role": "user", "content": f"warm {i}"}],
                            "stream": i % 2 == 0}
                    async with s.post(f"{base}/v1/chat/completions", json=body) as resp:
                        assert resp.status == 200
                        await resp.read()
        asyncio.run(warm())
        r = cli("run", "fakeai-strict", "--base-url", base, "--report", "json:-", "--quiet")
        assert server.poll() is None
    assert r.code == 0, failing(r.ledger)
    before = next(e for e in r.ledger["entries"] if e["id"] == "check/server-request-count-equals-requests-sent")
    assert before["observed"] == 20


@pytest.mark.timing(seconds=2)
def test_event_lag_is_waited_for_and_fails_when_the_wait_is_shorter(cli):
    ok = run(cli, "fakeai-strict", "--event-lag=0.3")
    assert ok.code == 0, failing(ok.ledger)
    settle = next(e for e in ok.ledger["entries"] if e["id"] == "settle")
    assert settle["status"] == "pass" and settle["observed"]["elapsed_s"] >= 0.2
    short = run(cli, "fakeai-strict", "--event-lag=0.3", sets=("SETTLE_TIMEOUT=0.05",))
    assert short.code == 1
    assert statuses(short.ledger)["settle"] == "warn"
    assert "check/events-processed-equal-events-published" in failing(short.ledger)


@pytest.mark.timing(seconds=3)
def test_client_timing_matches_configured_ttft_and_itl(cli):
    """Accuracy is measured one request at a time: ten streams starting together queue on the
    client before their bytes leave, and that queueing is (rightly) part of what it measures."""
    r = run(cli, "fakeai-strict", "--ttft=0.05", "--itl=0.01", sets=("CONCURRENCY=1",))
    client = r.ledger["client"]
    assert abs(client["ttft_s"]["p50"] - 0.05) <= 0.005, client["ttft_s"]
    assert abs(client["itl_s"]["p50"] - 0.01) <= 0.002, client["itl_s"]


def test_latency_gates_fail_on_a_slow_first_token(cli):
    """Streams whose first token takes 0.6 s fail the TTFT gate (0.5 s) and an end-to-end gate set at 0.5 s."""
    r = run(cli, "fakeai-strict", "--ttft=0.6", sets=("LATENCY_P99_MAX=0.5",))
    s = statuses(r.ledger)
    assert r.code == 1
    assert s["check/latency-gate-ttft-p99"] == "fail"
    assert s["check/latency-gate-end-to-end-p99"] == "fail"
    gate = next(e for e in r.ledger["entries"] if e["id"] == "check/latency-gate-ttft-p99")
    assert gate["observed"] >= 0.6 and gate["expected"] == 0.5
    e2e = next(e for e in r.ledger["entries"] if e["id"] == "check/latency-gate-end-to-end-p99")
    assert e2e["observed"] >= 0.6 and e2e["expected"] == 0.5
    assert s["check/server-ttft-p50-agrees-with-the-client-s"] == "pass"   # slow, but honestly reported


@pytest.mark.timing(seconds=3)
def test_failing_eventually_checks_wait_together_not_one_after_another(cli):
    """Several checks that never hold each wait SETTLE_TIMEOUT; concurrently, so the run takes
    about one timeout, not the sum of them."""
    t0 = time.monotonic()
    r = run(cli, "fakeai-strict", "--drop-stream-rate=0.5", "--seed=7", sets=("SETTLE_TIMEOUT=2",))
    elapsed = time.monotonic() - t0
    waited = [e for e in r.ledger["entries"] if e["status"] == "fail" and e["duration_s"] >= 1.5]
    assert len(waited) >= 3
    assert elapsed < 2 * 2 + 4, elapsed        # the sum would be >= 6 s of waiting alone
