"""The pytest plugin from an empty folder: shipped contract names, ledger tags as known marks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import FOREIGN_PLUGINS


@pytest.mark.timeout(120)
def test_a_shipped_contract_name_runs_from_an_empty_folder_without_mark_warnings(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *FOREIGN_PLUGINS, "--contract", "fakeai-final",
         "--contract-serve-reference", "-q", "-W", "error::pytest.PytestUnknownMarkWarning", "-m", "field"],
        cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "PytestUnknownMarkWarning" not in proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "deselected" in proc.stdout     # -m selects by ledger tag


def test_an_unknown_contract_name_is_a_usage_error_with_a_suggestion(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *FOREIGN_PLUGINS, "--contract", "fakeai-finl"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "did you mean 'fakeai-final'" in proc.stdout + proc.stderr
