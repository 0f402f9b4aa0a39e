"""The log lines a run produced: a captured server output file, or the lines a tailed file gained."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

#: At most this much of a log is read per run; the rest is left out, with a note.
MAX_BYTES = 50 * 1024 * 1024
#: Longer lines are cut here (the rest of the line is skipped, still counted against MAX_BYTES).
MAX_LINE_BYTES = 64 * 1024


def _decode(raw: bytes) -> str:
    return raw.rstrip(b"\n").rstrip(b"\r").decode("utf-8", errors="replace")


def _read_lines(f: BinaryIO, start: int, budget: int) -> tuple[list[str], int, bool]:
    """Lines of F from byte START to its end; returns (lines, bytes read, whether BUDGET ran out)."""
    f.seek(start)
    lines: list[str] = []
    used = 0
    while True:
        if used >= budget:
            return lines, used, bool(f.read(1))
        raw = f.readline(min(MAX_LINE_BYTES, budget - used))
        if not raw:
            return lines, used, False
        used += len(raw)
        text = _decode(raw)
        while not raw.endswith(b"\n"):
            # An over-long line: skip to its end, so the next line starts where it should.
            if used >= budget:
                lines.append(text)
                return lines, used, bool(f.read(1))
            raw = f.readline(min(MAX_LINE_BYTES, budget - used))
            if not raw:
                break
            used += len(raw)
        lines.append(text)


def _capped_note(max_bytes: int) -> str:
    size = f"{max_bytes / (1024 * 1024):g} MB" if max_bytes >= 1024 * 1024 else f"{max_bytes} bytes"
    return f"the log grew by more than {size} during the run: only the first {size} were scanned"


class LogSource:
    """Where a run's log lines come from: `read_new()` gives (lines, note), `iter_lines()` numbers them."""

    description: str = "log"
    #: What the last read had to say about the log (truncated, rotated, capped, missing), or None.
    note: str | None = None

    def read_new(self) -> tuple[list[str], str | None]:
        """The run's lines and a note about how they were read (None when nothing is worth saying)."""
        raise NotImplementedError

    def iter_lines(self) -> Iterator[tuple[int, str]]:
        """The run's lines with 1-based line numbers relative to the run."""
        lines, self.note = self.read_new()
        yield from enumerate(lines, start=1)


class CapturedLog(LogSource):
    """The output file of a server the runner started: everything from OFFSET on is the run's log."""

    def __init__(self, path: str | Path, offset: int = 0, *, max_bytes: int = MAX_BYTES):
        self.path = Path(path)
        self.offset = offset
        self.max_bytes = max_bytes
        self.description = f"server output ({path})"

    def read_new(self) -> tuple[list[str], str | None]:
        try:
            with open(self.path, "rb") as f:
                start = self.offset if self.offset <= os.fstat(f.fileno()).st_size else 0
                lines, _, capped = _read_lines(f, start, self.max_bytes)
        except FileNotFoundError:
            return [], f"{self.path} does not exist: the server wrote nothing"
        return lines, _capped_note(self.max_bytes) if capped else None


@dataclass
class _Segment:
    """One file (by inode) the tailed path pointed at during the run, and where its new part starts."""

    handle: BinaryIO
    ino: tuple[int, int]
    start: int


class TailedLog(LogSource):
    """A log file someone else writes: the lines it gains between `start()` and `read_new()`.

    Survives truncation (reads from the start again) and rotation by rename (reads the rest of the
    old file through the handle kept open, then the new file from its start).
    """

    def __init__(self, path: str | Path, *, max_bytes: int = MAX_BYTES):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.description = f"log file ({path})"
        self._segments: list[_Segment] = []
        self._events: list[str] = []
        self._started = False

    def _open_current(self, at_end: bool) -> None:
        try:
            handle = open(self.path, "rb")
        except OSError:
            return
        st = os.fstat(handle.fileno())
        self._segments.append(_Segment(handle, (st.st_dev, st.st_ino), st.st_size if at_end else 0))

    def start(self) -> "TailedLog":
        """Remember where the file ends now; a file that does not exist yet is fine."""
        self.close()
        self._events = []
        self._started = True
        self._open_current(at_end=True)
        return self

    def _follow_rotation(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return
        if any(seg.ino == (st.st_dev, st.st_ino) for seg in self._segments):
            return
        if self._segments:
            self._events.append(f"{self.path} was rotated during the run; read the rest of the old "
                                "file, then the new one from its start")
        self._open_current(at_end=False)

    def read_new(self) -> tuple[list[str], str | None]:
        if not self._started:
            raise RuntimeError("TailedLog.read_new() before start()")
        self._follow_rotation()
        lines: list[str] = []
        budget, capped = self.max_bytes, False
        for seg in self._segments:
            size = os.fstat(seg.handle.fileno()).st_size
            if size < seg.start:
                self._events.append(f"{self.path} was truncated during the run; read it from its "
                                    "start (lines written before the truncation are lost)")
                seg.start = 0
            if capped:
                continue
            got, used, capped = _read_lines(seg.handle, seg.start, budget)
            lines.extend(got)
            budget -= used
        notes = list(self._events) + ([_capped_note(self.max_bytes)] if capped else [])
        if not self._segments:
            notes.append(f"{self.path} does not exist")
        return lines, "; ".join(notes) or None

    def close(self) -> None:
        """Close the handles kept open to follow rotation."""
        for seg in self._segments:
            seg.handle.close()
        self._segments = []

    def __enter__(self) -> "TailedLog":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()
