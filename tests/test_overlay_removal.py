"""Overlays remove inherited items: `endpoints: {NAME: null}`, and `remove: true` on a check or mix entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from fakeai_contract import resources
from fakeai_contract.contract import load_contract
from fakeai_contract.contract.positions import load_file
from fakeai_contract.errors import ContractError
from tests.helpers import run_cli

TARGETS = Path(__file__).parent / "data" / "contracts" / "targets"

BASE = """\
contract: base
target: {base_url: "http://127.0.0.1:1"}
load:
  models: [m]
  mix:
    - {name: short, count: 2, body: {messages: []}}
    - {name: long, count: 3, body: {messages: []}}
endpoints:
  metrics: {path: /metrics}
  prom: {path: /prom, format: prometheus}
checks:
  - {name: counted, that: metrics.total, gt: 0}
  - {name: scraped, that: prom, exists: true}
"""


def write(folder: Path, name: str, text: str) -> Path:
    """Write a contract; one with `contract:` gets `version: 1` last, so its other lines keep their numbers."""
    path = folder / name
    if text.startswith("contract:") and "\nversion:" not in text:
        text = text + ("" if text.endswith("\n") else "\n") + "version: 1\n"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return write(tmp_path, "base.yaml", BASE)


def overlay(folder: Path, body: str, name: str = "over.yaml") -> Path:
    return write(folder, name, "extends: [base.yaml]\ncontract: over\n" + body)


def test_null_endpoint_and_removed_check_and_mix_entry_are_gone(base):
    path = overlay(base.parent, "endpoints: {prom: null}\nchecks:\n  - {name: scraped, remove: true}\n"
                                "load:\n  mix:\n    - {name: long, remove: true}\n")
    c = load_contract(path, env={})
    assert list(c.endpoints) == ["metrics"]
    assert [ch.name for ch in c.checks] == ["counted"]
    assert [m.name for m in c.load.mix] == ["short"] and sum(m.count for m in c.load.mix) == 2
    assert [(r.kind, r.name) for r in c.removed] == [("endpoint", "prom"), ("check", "scraped"),
                                                    ("mix entry", "long")]
    removal = c.removed[0]
    assert removal.location.file == str(path) and removal.location.line == 3
    assert removal.origin.file == str(base) and removal.origin.line == 10


def test_without_removals_the_inherited_items_stay(base):
    c = load_contract(overlay(base.parent, "checks: []\n"), env={})
    assert list(c.endpoints) == ["metrics", "prom"] and len(c.checks) == 2 and len(c.load.mix) == 2
    assert c.removed == ()


def test_a_removed_item_can_be_defined_again_further_down_the_chain(base):
    overlay(base.parent, "endpoints: {prom: null}\nchecks:\n  - {name: scraped, remove: true}\n")
    top = write(base.parent, "top.yaml", "extends: [over.yaml]\nendpoints:\n  prom: {path: /other}\n")
    c = load_contract(top, env={})
    assert c.endpoints["prom"].path == "/other"
    assert [(r.kind, r.name) for r in c.removed] == [("endpoint", "prom"), ("check", "scraped")]


def test_remove_false_is_an_ordinary_replacement(base):
    c = load_contract(overlay(base.parent, "checks:\n  - {name: scraped, remove: false, that: prom, "
                                           "exists: false}\n"), env={})
    assert [(ch.name, ch.expected) for ch in c.checks] == [("counted", 0), ("scraped", False)]


@pytest.mark.parametrize("body, message, fix", [
    ("endpoints: {prm: null}\n", "endpoints.prm: null removes the endpoint 'prm', but no base contract "
     "defines it; did you mean 'prom'?", "write 'prom' instead"),
    ("checks:\n  - {name: scrapd, remove: true}\n", "removes the check 'scrapd', but no base contract "
     "defines it; did you mean 'scraped'?", "write 'scraped' instead"),
    ("load:\n  mix:\n    - {name: medium, remove: true}\n", "removes the mix entry 'medium'",
     "name one of the inherited mix entries: 'short', 'long'"),
    ("checks:\n  - {name: scraped, remove: true, that: prom}\n", "a check with remove: true names only what "
     "it removes, but it also sets that", "keep only name: and remove: true"),
    ("checks:\n  - {name: scraped, remove: true}\n  - {name: scraped, remove: true}\n",
     "removes the check 'scraped', but no base contract defines it", "name one of the inherited checks: 'counted'"),
])
def test_removing_what_is_not_inherited_is_a_contract_error(base, body, message, fix):
    path = overlay(base.parent, body)
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    assert message in info.value.message
    assert fix in (info.value.fix or "")
    assert info.value.location.file == str(path) and info.value.location.line >= 3


def test_removal_without_extends_says_nothing_is_inherited(tmp_path):
    path = write(tmp_path, "alone.yaml", 'contract: a\ntarget: {base_url: "http://127.0.0.1:1"}\n'
                                         "endpoints:\n  metrics: null\n")
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    assert "no base contract defines it" in info.value.message
    assert "only removes what a contract named in extends defines" in info.value.fix
    assert info.value.location.line == 4


def test_a_check_reading_a_removed_endpoint_is_flagged_with_the_fix(base):
    path = overlay(base.parent, "endpoints: {prom: null}\n")
    result = run_cli("lint", str(path))
    assert result.code == 2
    assert "check 'scraped' reads 'prom', but the endpoint 'prom' is removed at " in result.err
    assert f"{path}:3" in result.err
    assert "fix: remove the check too: - {name: 'scraped', remove: true}" in result.err
    assert f"{base}:13" in result.err                  # the check's own line in the base


def test_lint_and_explain_report_removals(base):
    path = overlay(base.parent, "endpoints: {prom: null}\nchecks:\n  - {name: scraped, remove: true}\n")
    lint = run_cli("lint", str(path))
    assert lint.code == 0, lint.err
    assert f"removes endpoint 'prom' (defined at {base}:10:9), removed at {path}:3" in lint.out
    assert "removes check 'scraped'" in lint.out
    explain = run_cli("explain", str(path))
    assert explain.code == 0, explain.err
    assert "removed by overlays:" in explain.out and "  endpoint 'prom' (defined at" in explain.out
    assert "prom: GET /prom" not in explain.out and "[check/scraped]" not in explain.out


def test_overlays_with_removals_satisfy_the_raw_contract_schema():
    schema = json.loads((resources.schemas_dir() / "contract.schema.json").read_text())
    validator = Draft202012Validator(schema)
    doc = json.loads(json.dumps(load_file(TARGETS / "without-slo.yaml")))
    assert list(validator.iter_errors(doc)) == []
    # a removal still needs its name, and an ordinary entry still needs what it always needed
    assert list(validator.iter_errors({"extends": "x", "checks": [{"remove": True}]}))
    assert list(validator.iter_errors({"extends": "x", "checks": [{"name": "c", "remove": False}]}))
    assert list(validator.iter_errors({"extends": "x", "load": {"mix": [{"name": "m"}]}}))


@pytest.mark.timeout(120)
def test_overlay_without_an_endpoint_runs_clean_against_the_reference_server():
    result = run_cli("run", str(TARGETS / "without-slo.yaml"), "--serve-reference", "--report", "json:-",
                     "--no-color")
    assert result.code == 0, result.err[-2000:]
    ids = [e["id"] for e in result.ledger["entries"]]
    assert "endpoint/metrics" in ids and not any("slo" in i for i in ids), ids
    assert result.ledger["client"]["requests"] == {"total": 10, "succeeded": 10, "failed": 0,
                                                   "streaming": 0, "non_streaming": 10}
