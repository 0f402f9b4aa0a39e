"""Health modes: `health: false` (no wait) and `health.expect: any-2xx` (an empty 200 is healthy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeai_contract.contract import load_contract
from fakeai_contract.errors import ContractError
from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

TARGETS = Path(__file__).parent / "data" / "contracts" / "targets"
TRACEBACK = "Traceback (most recent call last)"


def _run(contract: str, url: str):
    return run_cli("run", str(TARGETS / contract), "--base-url", url, "--report", "json:-", "--no-color")


def _entries(result) -> dict[str, dict]:
    return {e["id"]: e for e in result.ledger["entries"]}


def _failures(result) -> list:
    return [(e["id"], e["message"]) for e in result.ledger["entries"] if e["status"] in ("fail", "error")]


@pytest.mark.timeout(60)
def test_health_false_never_polls_and_the_run_goes_on():
    with MisbehavingServer("health_503") as server:        # its /health would never be ready
        result = _run("health-off.yaml", server.url)
        paths = list(server.seen_paths)
    assert result.code == 0, _failures(result)
    health = _entries(result)["health"]
    assert health["status"] == "skip"
    assert health["message"] == "no health wait: the contract sets health: false"
    assert not any(p.endswith(" /health") for p in paths), paths
    assert result.ledger["client"]["requests"]["total"] == 4


@pytest.mark.timeout(60)
def test_an_empty_200_fails_the_default_json_health_check():
    with MisbehavingServer("health_empty") as server:
        result = run_cli("run", str(TARGETS.parent / "hardening" / "small.yaml"), "--base-url", server.url,
                         "--report", "json:-", "--no-color")
    assert result.code == 1
    health = _entries(result)["health"]
    assert health["status"] == "fail" and "expected JSON, got text/plain" in health["message"], health
    assert TRACEBACK not in result.err


@pytest.mark.timeout(60)
def test_any_2xx_accepts_an_empty_200():
    with MisbehavingServer("health_empty") as server:
        result = _run("health-any-2xx.yaml", server.url)
    assert result.code == 0, _failures(result)
    health = _entries(result)["health"]
    assert health["status"] == "pass"
    assert health["observed"]["http_status"] == 200 and health["observed"]["document"] is None
    assert health["expected"]["expect"] == "any-2xx"


@pytest.mark.timeout(60)
def test_any_2xx_keeps_a_json_body_for_the_checks():
    with MisbehavingServer("ok") as server:
        result = _run("health-any-2xx.yaml", server.url)
    assert result.code == 0, _failures(result)
    assert _entries(result)["health"]["observed"]["document"] == {"status": "healthy", "ready": True}


@pytest.mark.timeout(60)
def test_any_2xx_still_fails_a_server_that_is_not_2xx():
    with MisbehavingServer("health_503") as server:
        result = _run("health-any-2xx.yaml", server.url)
    assert result.code == 1
    health = _entries(result)["health"]
    assert health["status"] == "fail" and "HTTP 503" in health["message"]
    assert health["observed"]["attempts"] >= 2


@pytest.mark.timeout(60)
def test_any_2xx_with_a_schema_fails_a_body_that_is_not_json():
    with MisbehavingServer("health_empty") as server:
        result = _run("health-any-2xx-schema.yaml", server.url)
    assert result.code == 1
    health = _entries(result)["health"]
    assert health["status"] == "fail"
    assert "without a JSON body, so health.schema.json cannot apply" in health["message"]


def test_health_false_and_expect_load_into_the_model():
    assert load_contract(TARGETS / "health-off.yaml", env={}).health.enabled is False
    h = load_contract(TARGETS / "health-any-2xx.yaml", env={}).health
    assert (h.enabled, h.expect, h.path) == (True, "any-2xx", "/health")
    assert load_contract("fakeai-final", env={}).health.expect == "json"


@pytest.mark.parametrize("health, message, fix", [
    ("true", "health must be false, got true", "or health: false"),
    ("{expect: any2xx}", "health.expect must be one of 'json', 'any-2xx', got 'any2xx'; did you mean 'any-2xx'?",
     "write expect: \"any-2xx\""),
    ("{timeout: soon}", "health.timeout: expected a number, got 'soon'", "write timeout: 45"),
])
def test_bad_health_settings_exit_2_with_the_fix(tmp_path, health, message, fix):
    path = tmp_path / "c.yaml"
    path.write_text(f'contract: c\ntarget: {{base_url: "http://127.0.0.1:1"}}\nhealth: {health}\nversion: 1\n')
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    assert message in info.value.message
    assert fix in (info.value.fix or "")
    assert info.value.location.line == 3
    assert run_cli("lint", str(path)).code == 2


def test_explain_shows_the_health_mode():
    assert "health: no wait (health: false)" in run_cli("explain", str(TARGETS / "health-off.yaml")).out
    assert ", any 2xx answer" in run_cli("explain", str(TARGETS / "health-any-2xx.yaml")).out
