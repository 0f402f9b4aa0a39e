"""Where reports go: parsing --report FORMAT:PATH, atomic file writes, the GitHub step summary."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Mapping, NamedTuple

from fakeai_contract.errors import UsageError, did_you_mean

#: Formats --report accepts (the terminal report is plain text here: no colour in a file).
REPORT_FORMATS = ("json", "junit", "tap", "markdown", "html", "terminal")
STDOUT = "-"


class ReportSpec(NamedTuple):
    """One --report FORMAT:PATH; PATH '-' is standard output."""

    fmt: str
    path: str

    @property
    def to_stdout(self) -> bool:
        return self.path == STDOUT


def parse_report_spec(spec: str) -> ReportSpec:
    """'junit:out/r.xml' → ReportSpec('junit', 'out/r.xml'); a bad spec raises UsageError."""
    valid = ", ".join(REPORT_FORMATS)
    fmt, sep, path = spec.partition(":")
    fmt = fmt.strip().lower()
    if not sep:
        guess = fmt if fmt in REPORT_FORMATS else did_you_mean(fmt, REPORT_FORMATS) or "junit"
        raise UsageError(f"--report {spec!r} names no path",
                         fix=f"write FORMAT:PATH, e.g. --report {guess}:report.out, "
                             f"or {guess}:- for standard output (formats: {valid})")
    if fmt not in REPORT_FORMATS:
        hint = did_you_mean(fmt, REPORT_FORMATS)
        raise UsageError(f"--report {spec!r}: unknown format {fmt!r}",
                         fix=(f"did you mean {hint}:{path}? " if hint else "") + f"formats: {valid}")
    if not path:
        raise UsageError(f"--report {spec!r} names no path",
                         fix=f"write --report {fmt}:PATH, or {fmt}:- for standard output (formats: {valid})")
    return ReportSpec(fmt, path)


def _new_file_mode() -> int:
    # mkstemp creates 0600; a report should get the permissions any new file would.
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, text: str) -> None:
    """Write TEXT to PATH all at once: readers see the old file or the new one, never half."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def append_text(path: str | Path, text: str) -> None:
    """Append TEXT to PATH (the step summary is shared by every step of a job, so never replace)."""
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)


def step_summary_path(env: Mapping[str, str] | None = None) -> Path | None:
    """The file $GITHUB_STEP_SUMMARY names, or None outside GitHub Actions."""
    value = (os.environ if env is None else env).get("GITHUB_STEP_SUMMARY", "")
    return Path(value) if value.strip() else None


def check_destination(spec: ReportSpec) -> None:
    """A report path that cannot be created or written is UsageError before the run starts."""
    if spec.to_stdout:
        return
    target = Path(spec.path)
    problem = None
    if target.is_dir():
        problem = "the path is a folder"
    else:
        folder = target.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the folder {folder} ({exc.strerror or exc})"
        else:
            if not os.access(folder, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
                problem = "the path is not writable"
    if problem:
        raise UsageError(f"--report {spec.fmt}:{spec.path}: {problem}",
                         fix="name a file in a folder you can write, or '-' for standard output")
