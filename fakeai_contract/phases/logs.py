"""Logs phase: scan the lines the server logged during the run for the contract's patterns."""

from __future__ import annotations

import time

from fakeai_contract.checks.log_patterns import scan
from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Entry, SkipReason, Status

NAME = "Exception Monitoring"


def check_logs(ctx: RunContext) -> Entry:
    """One entry: pass, fail with the first findings as evidence, or skip without a source."""
    rules = ctx.contract.logs
    source = ctx.options.log_source
    loc = ctx.location(rules)
    expected = {"fail_on": list(rules.fail_on), "ignore": list(rules.ignore)}
    if not rules.fail_on:
        return Entry("logs", "logs", NAME, Status.SKIP, expected=expected, location=loc,
                     message="the contract sets no logs.fail_on patterns", tags=("logs",))
    if source is None:
        return Entry("logs", "logs", NAME, Status.SKIP, expected=expected, location=loc,
                     message=SkipReason.NO_LOG_SOURCE.value, tags=("logs",))
    t0 = time.monotonic()
    try:
        result = scan(source.iter_lines(), rules.fail_on, rules.ignore, rules.max_findings)
    except OSError as exc:
        return Entry("logs", "logs", NAME, Status.ERROR, expected=expected, location=loc,
                     message=f"cannot read {source.description}: {exc}", tags=("logs",))
    findings = [{"line": f.line, "text": f.text, "pattern": f.pattern, "excerpt": list(f.excerpt)}
                for f in result.findings]
    observed = {"source": source.description, "lines_scanned": result.lines_scanned,
                "total_findings": result.total_findings, "findings": findings}
    note = getattr(source, "note", None)
    if note:
        observed["note"] = note
    if result.total_findings:
        first = result.findings[0]
        message = (f"{result.total_findings} finding(s) in {source.description}; "
                   f"first at line {first.line}: {first.text}")
        status = Status.FAIL
    else:
        message = f"{result.lines_scanned} lines scanned, nothing matched"
        status = Status.PASS
    return Entry("logs", "logs", NAME, status, observed=observed, expected=expected,
                 message=message, duration_s=time.monotonic() - t0, tags=("logs",), location=loc)
