"""`fakeai-contract compare BASELINE CURRENT`: what changed between two ledgers; exit 1 on a
regression past its threshold, 0 otherwise, 2 on bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

from fakeai_contract import exit_codes
from fakeai_contract.errors import UsageError

#: Keys every ledger has (schemas/ledger.schema.json); a file without them is not a ledger.
LEDGER_KEYS = ("contract", "summary", "entries", "client")
FORMATS = ("terminal", "markdown", "json", "html")


def load_ledger(path: str, role: str) -> dict[str, Any]:
    """The ledger document saved at PATH (by --report json:PATH); bad input raises UsageError."""
    fix = "give the file written by `fakeai-contract run --report json:PATH`"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{role} {path!r}: no such file", fix=fix) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{role} {path!r}: cannot read it ({getattr(exc, 'strerror', None) or exc})", fix=fix) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{role} {path!r}: not JSON ({exc})", fix=fix) from None
    missing = [k for k in LEDGER_KEYS if not isinstance(doc, dict) or k not in doc]
    if missing or not isinstance(doc.get("entries"), list):
        raise UsageError(f"{role} {path!r}: not a fakeai-contract ledger (no {', '.join(missing) or 'entries list'})",
                         fix=fix)
    return doc


def _reports(specs: list[str]):
    from fakeai_contract.output import parse_report_spec

    out = []
    for spec in specs:
        r = parse_report_spec(spec)
        if r.fmt not in FORMATS:
            raise UsageError(f"--report {spec!r}: compare writes {', '.join(FORMATS)}",
                             fix=f"write e.g. --report markdown:{r.path}")
        out.append(r)
    return out


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Compare the two ledgers ARGS name; print the table, write any --report; the exit code."""
    from fakeai_contract.comparison import compare, thresholds
    from fakeai_contract.output import write_atomic
    from fakeai_contract.report import render
    from fakeai_contract.report.comparison import FORMATS as RENDER

    table = thresholds(args.threshold)
    reports = _reports(args.report)
    baseline, current = load_ledger(args.baseline, "BASELINE"), load_ledger(args.current, "CURRENT")
    cmp = compare(baseline, current, table)
    to_stdout = any(r.to_stdout for r in reports)
    (stderr if to_stdout else stdout).write(RENDER["terminal"](cmp))
    for r in reports:
        text = render("html", current, comparison=cmp) if r.fmt == "html" else RENDER[r.fmt](cmp)
        if r.to_stdout:
            stdout.write(text)
            continue
        try:
            write_atomic(r.path, text)
        except OSError as exc:
            print(f"error: cannot write the {r.fmt} report to {r.path}: {exc.strerror or exc}", file=stderr)
            return exit_codes.INVALID
    return exit_codes.FAILED if cmp["exit_code"] else exit_codes.OK
