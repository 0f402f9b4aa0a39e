"""The wheel carries the shipped contracts and schemas, and an installed tool finds them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(300)
def test_wheel_contains_every_shipped_contract_and_schema(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("fakeai_contract-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "contracts").glob("*.yaml"):
        assert f"fakeai_contract/contracts/{path.name}" in names
    for path in (ROOT / "schemas").glob("*.json"):
        assert f"fakeai_contract/schemas/{path.name}" in names
    assert "fakeai_contract/reference/app.py" in names


def test_resources_resolve_to_real_folders():
    from fakeai_contract.resources import contracts_dir, schemas_dir, shipped_contract

    assert (schemas_dir() / "ledger.schema.json").is_file()
    assert shipped_contract("fakeai-final") == contracts_dir() / "fakeai-final.yaml"
