"""Malformed contracts, as data: each names the line of the mistake and says what is wrong."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from fakeai_contract.errors import ContractError
from fakeai_contract.contract import load_contract

BAD = Path(__file__).parent / "data" / "contracts" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))
HELPERS = {"cycle_b", "cycle_c"}     # the rest of the extends_cycle chain


def test_every_bad_file_has_a_case_and_there_are_enough():
    files = {p.stem for p in BAD.glob("*.yaml")} - {"cases"} - HELPERS
    assert files == set(CASES)
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_contract(name):
    case = CASES[name]
    started = time.monotonic()
    with pytest.raises(ContractError) as info:
        load_contract(BAD / f"{name}.yaml", env={})
    assert time.monotonic() - started < 5
    rendered = info.value.render()
    where = f"{case.get('file', name + '.yaml')}:{case['line']}"
    assert where in rendered, rendered
    assert case["message"] in rendered, rendered
    assert "Traceback" not in rendered
    assert info.value.location is not None


def test_missing_contract_file_is_a_contract_error(tmp_path):
    with pytest.raises(ContractError, match="no contract file"):
        load_contract(tmp_path / "absent.yaml", env={})


def test_shipped_name_misspelt_suggests_the_right_one():
    with pytest.raises(ContractError, match="did you mean 'fakeai-final'"):
        load_contract("fakeai-fnal", env={})


def test_folder_is_not_a_contract(tmp_path):
    with pytest.raises(ContractError, match="is a folder"):
        load_contract(tmp_path, env={})


def test_oversized_file_is_refused(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("contract: t\ndescription: '" + "x" * (1024 * 1024) + "'\n")
    with pytest.raises(ContractError, match="larger than"):
        load_contract(path, env={})


def test_non_utf8_file_is_refused(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"contract: t\ndescription: caf\xe9\n")
    with pytest.raises(ContractError, match="not UTF-8") as info:
        load_contract(path, env={})
    assert info.value.location.line == 2


def test_deep_nesting_is_a_contract_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("contract: t\ndescription: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ContractError):
        load_contract(path, env={})


def test_several_errors_are_reported_together(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("contract: t\ntarget:\n  base_url: http://x\n  request_timeout: -1\nchekcs: []\n"
                    "health: {interval: 0}\nversion: 1\n")
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    rendered = info.value.render()
    assert "many.yaml:4" in rendered and "many.yaml:5" in rendered and "many.yaml:6" in rendered
    assert len(info.value.errors) == 3


def test_extends_chain_too_deep(tmp_path):
    for i in range(20):
        (tmp_path / f"c{i}.yaml").write_text(f"extends: [c{i + 1}.yaml]\ncontract: c{i}\n")
    (tmp_path / "c20.yaml").write_text("contract: end\ntarget: {base_url: 'http://x'}\nversion: 1\n")
    with pytest.raises(ContractError, match="deeper than 16"):
        load_contract(tmp_path / "c0.yaml", env={})
