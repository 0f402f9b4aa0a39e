"""CapturedLog and TailedLog against real files: appends, truncation, rotation, late creation, caps."""

from __future__ import annotations

import os

import pytest

from fakeai_contract import logsource
from fakeai_contract.logsource import CapturedLog, TailedLog


def append(path, text: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(text.encode() if isinstance(text, str) else text)


def test_captured_log_is_the_whole_file_from_the_offset(tmp_path):
    path = tmp_path / "server.log"
    path.write_text("before\nalso before\n")
    offset = path.stat().st_size
    append(path, "one\r\ntwo\nthree")
    log = CapturedLog(path, offset)
    assert list(log.iter_lines()) == [(1, "one"), (2, "two"), (3, "three")]
    assert log.note is None
    assert list(CapturedLog(path).iter_lines())[0] == (1, "before")
    assert log.description == f"server output ({path})"


def test_captured_log_missing_file_is_a_note_not_an_error(tmp_path):
    log = CapturedLog(tmp_path / "never.log")
    assert list(log.iter_lines()) == []
    assert "does not exist" in log.note


def test_captured_log_decodes_invalid_utf8_with_replacement(tmp_path):
    path = tmp_path / "server.log"
    path.write_bytes(b"ok \xff\xfe end\n")
    assert CapturedLog(path).read_new() == (["ok \ufffd\ufffd end"], None)


def test_tailed_log_gives_only_appended_lines(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old 1\nold 2\n")
    log = TailedLog(path).start()
    append(path, "new 1\nnew 2\n")
    assert log.read_new() == (["new 1", "new 2"], None)
    append(path, "new 3\npartial")
    # Reads are repeatable: always everything since start(), numbered from the run's first line.
    assert list(log.iter_lines()) == [(1, "new 1"), (2, "new 2"), (3, "new 3"), (4, "partial")]
    assert log.description == f"log file ({path})"
    log.close()


def test_tailed_log_nothing_new(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old\n")
    with TailedLog(path) as log:
        assert log.read_new() == ([], None)


def test_tailed_log_truncation_reads_from_start_and_notes_it(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old line that is long\n" * 5)
    with TailedLog(path) as log:
        append(path, "lost\n")
        with open(path, "wb") as f:          # truncate (copytruncate rotation does this)
            f.write(b"after truncation\n")
        lines, note = log.read_new()
    assert lines == ["after truncation"]
    assert "truncated" in note


def test_tailed_log_rotation_reads_old_rest_then_new_file(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old\n")
    with TailedLog(path) as log:
        with open(path, "ab") as writer:     # the server keeps writing through its open handle
            writer.write(b"before rotation\n")
            os.rename(path, tmp_path / "app.log.1")
            writer.write(b"late line to the old file\n")
        path.write_text("new file 1\nnew file 2\n")
        lines, note = log.read_new()
    assert lines == ["before rotation", "late line to the old file", "new file 1", "new file 2"]
    assert "rotated" in note


def test_tailed_log_rotation_when_old_file_deleted(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("old\n")
    with TailedLog(path) as log:
        append(path, "kept by the open handle\n")
        os.unlink(path)
        path.write_text("fresh\n")
        lines, note = log.read_new()
    assert lines == ["kept by the open handle", "fresh"]
    assert "rotated" in note


def test_tailed_log_file_created_after_start_counts_entirely(tmp_path):
    path = tmp_path / "later.log"
    with TailedLog(path) as log:
        assert log.read_new() == ([], f"{path} does not exist")
        path.write_text("first\nsecond\n")
        assert log.read_new() == (["first", "second"], None)


def test_tailed_log_caps_what_it_reads(tmp_path):
    path = tmp_path / "big.log"
    path.write_text("")
    with TailedLog(path, max_bytes=100) as log:
        append(path, "".join(f"line {i:04d}\n" for i in range(100)))    # 10 bytes a line
        lines, note = log.read_new()
    assert lines == [f"line {i:04d}" for i in range(10)]
    assert "100 bytes" in note and "only the first" in note


def test_cap_applies_across_rotated_files(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("")
    with TailedLog(path, max_bytes=25) as log:
        append(path, "aaaaaaaaa\nbbbbbbbbb\n")                  # 20 bytes
        os.rename(path, tmp_path / "app.log.1")
        path.write_text("ccccccccc\nddddddddd\n")
        lines, note = log.read_new()
    assert lines[:2] == ["aaaaaaaaa", "bbbbbbbbb"] and len(lines) == 3 and "ddddddddd" not in lines
    assert "rotated" in note and "only the first" in note


def test_over_long_line_is_cut_and_next_line_survives(tmp_path, monkeypatch):
    monkeypatch.setattr(logsource, "MAX_LINE_BYTES", 16)
    path = tmp_path / "server.log"
    path.write_text("x" * 100 + "\nnext\n")
    assert CapturedLog(path).read_new() == (["x" * 16, "next"], None)


def test_read_before_start_is_a_programming_error(tmp_path):
    with pytest.raises(RuntimeError):
        TailedLog(tmp_path / "a.log").read_new()
