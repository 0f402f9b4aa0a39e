"""Report destinations: --report specs, atomic writes, the GitHub step summary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakeai_contract import output
from fakeai_contract.errors import UsageError
from fakeai_contract.output import parse_report_spec, step_summary_path, write_atomic


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- parse_report_spec -----------------------------------------------------------------------

@pytest.mark.parametrize("spec, fmt, path", [
    ("junit:out/r.xml", "junit", "out/r.xml"),
    ("json:-", "json", "-"),
    ("TAP:results.tap", "tap", "results.tap"),
    ("markdown:C:\\reports\\summary.md", "markdown", "C:\\reports\\summary.md"),
    ("terminal:run.txt", "terminal", "run.txt"),
])
def test_parse_report_spec(spec, fmt, path):
    parsed = parse_report_spec(spec)
    assert parsed == (fmt, path)
    assert parsed.to_stdout == (path == "-")


@pytest.mark.parametrize("spec, hint", [
    ("junti:r.xml", "did you mean junit:r.xml"),
    ("pdf:r.pdf", "formats: json, junit, tap, markdown, html"),
    ("junit", "junit:-"),
    ("junit:", "junit:PATH"),
    (":r.xml", "formats:"),
])
def test_bad_report_spec_is_a_usage_error_naming_the_formats(spec, hint):
    with pytest.raises(UsageError) as err:
        parse_report_spec(spec)
    assert hint in err.value.render()
    assert "json" in err.value.render()


# --- write_atomic ----------------------------------------------------------------------------

def test_write_creates_parent_folders_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "a" / "b" / "report.xml"
    write_atomic(target, "<x>é</x>\n")
    assert target.read_text(encoding="utf-8") == "<x>é</x>\n"
    assert leftovers(target.parent) == []
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_replaces_atomically(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    target.chmod(0o640)
    with open(target) as reader:      # a reader holding the old file keeps seeing it whole
        write_atomic(str(target), "new")
        assert reader.read() == "old"
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o777 == 0o640
    assert leftovers(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "r.txt"
    target.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half written \ud800 never")      # cannot be encoded
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_failed_replace_keeps_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "r.txt"
    target.write_text("old")

    def refuse(src, dst):
        raise OSError("disk says no")

    monkeypatch.setattr(output.os, "replace", refuse)
    with pytest.raises(OSError, match="disk says no"):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_write_into_a_file_path_parent_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError):
        write_atomic(blocker / "r.txt", "new")
    assert blocker.read_text() == "x"


# --- GitHub step summary ---------------------------------------------------------------------

def test_step_summary_path(tmp_path):
    summary = tmp_path / "step_summary.md"
    assert step_summary_path({"GITHUB_STEP_SUMMARY": str(summary)}) == summary
    assert step_summary_path({}) is None
    assert step_summary_path({"GITHUB_STEP_SUMMARY": "  "}) is None


def test_append_text_keeps_what_earlier_steps_wrote(tmp_path):
    summary = tmp_path / "step_summary.md"
    summary.write_text("# earlier step\n")
    output.append_text(summary, "### ✅ PASS\n")
    assert summary.read_text(encoding="utf-8") == "# earlier step\n### ✅ PASS\n"
