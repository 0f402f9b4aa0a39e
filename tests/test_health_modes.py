"""Health modes: `health: false` (no wait) and `health.expect: any-2xx` (an empty 200 is healthy).

How they behave against a server is in the data cases tests/e2e/health-*."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeai_contract.contract import load_contract
from fakeai_contract.errors import ContractError
from tests.helpers import run_cli

TARGETS = Path(__file__).parent / "data" / "contracts" / "targets"


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
