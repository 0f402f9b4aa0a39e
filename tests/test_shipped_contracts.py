"""Every shipped contract passes on a clean reference server and fails when the server breaks it."""

from __future__ import annotations

import pytest

from fakeai_contract.contract import load_contract
from fakeai_contract.resources import shipped_contract_names

pytestmark = pytest.mark.timeout(120)

#: Server packs run against the reference server with their own --flavor (tests/test_packs_faults.py),
#: and fakeai-prometheus's clean run, every check passing, is in tests/test_prometheus_e2e.py.
ELSEWHERE = ("vllm", "sglang", "tgi", "llamacpp", "litellm", "fakeai-prometheus")
REFERENCE_CONTRACTS = [n for n in shipped_contract_names() if n != "fakeai-0.3" and n not in ELSEWHERE]
#: Contracts that hold the server's timing against the client's: their clean runs read a clock.
TIMED = ("fakeai-streaming-metrics", "fakeai-strict")


def bad(ledger: dict) -> dict[str, str]:
    return {e["id"]: e["message"] for e in ledger["entries"] if e["status"] in ("fail", "error")}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.timing) if n in TIMED else n
                                  for n in REFERENCE_CONTRACTS])
def test_shipped_contract_passes_on_a_clean_reference_server(cli, name):
    r = cli("run", name, "--serve-reference", "--report", "json:-", "--quiet")
    assert r.code == 0, bad(r.ledger)


def test_focused_contracts_extend_the_shared_base():
    for name in ("fakeai-event-flow", "fakeai-error-metrics", "fakeai-streaming-metrics"):
        contract = load_contract(name)
        assert [p.name for p in contract.files] == ["fakeai-base.yaml", f"{name}.yaml"]
        assert set(contract.endpoints) == {"metrics", "events", "errors", "streaming", "slo"}


def test_error_metrics_hold_under_injected_errors(cli):
    r = cli("run", "fakeai-error-metrics", "--serve-reference", "--reference-arg=--error-rate=0.3",
            "--reference-arg=--seed=9", "--report", "json:-", "--quiet")
    failed = bad(r.ledger)
    assert r.code == 1 and failed
    assert all(id.startswith("load/") for id in failed), failed     # only the failed requests themselves
    assert r.ledger["client"]["requests"]["failed"] == len(failed)


def test_custom_schemas_fail_responses_and_endpoints_that_do_not_match(cli, tmp_path):
    """A schema the server does not meet fails its schema entries (responses, chunks, endpoints)."""
    (tmp_path / "strict_completion.schema.json").write_text(
        '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",'
        ' "required": ["system_fingerprint"]}')
    (tmp_path / "strict_metrics.schema.json").write_text(
        '{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",'
        ' "properties": {"total_requests": {"type": "string"}}}')
    (tmp_path / "c.yaml").write_text(
        "extends: [fakeai-final]\n"
        "load:\n  mix:\n"
        "    - {name: non-streaming, count: 2, body: {messages: [{role: user, content: hi}]},\n"
        "       response_schema: strict_completion.schema.json}\n"
        "    - {name: streaming, count: 2, body: {messages: [{role: user, content: hi}], stream: true},\n"
        "       chunk_schema: strict_completion.schema.json}\n"
        "endpoints:\n  metrics: {path: /metrics, schema: strict_metrics.schema.json}\n")
    r = cli("run", str(tmp_path / "c.yaml"), "--serve-reference", "--report", "json:-", "--quiet")
    failed = bad(r.ledger)
    assert r.code == 1
    assert "system_fingerprint" in failed["schema/responses/non-streaming"]
    assert "system_fingerprint" in failed["schema/responses/streaming"]
    assert "total_requests" in failed["schema/metrics"]
