"""scan(): fail_on / ignore, tracebacks as one finding each, caps, and a no-match property."""

from __future__ import annotations

import re
import traceback

from hypothesis import given, settings, strategies as st

from fakeai_contract.checks.log_patterns import MAX_TEXT, Finding, LogScan, scan

FAIL_ON = [r"Traceback \(most recent call last\)", r"\bCRITICAL\b", r"\bERROR\b"]


def numbered(lines):
    return list(enumerate(lines, start=1))


def real_traceback(exc_factory) -> list[str]:
    """The lines Python prints for the exception EXC_FACTORY raises."""
    try:
        exc_factory()
    except BaseException as exc:     # noqa: BLE001 - any exception is the test's data
        return "".join(traceback.format_exception(exc)).splitlines()
    raise AssertionError("factory did not raise")


def boom():
    def inner():
        raise ValueError("boom")
    inner()


def chained():
    try:
        {}["missing"]
    except KeyError:
        raise RuntimeError("while handling")


def caused():
    try:
        int("x")
    except ValueError as exc:
        raise LookupError("caused") from exc


def group():
    raise ExceptionGroup("eg", [ValueError("one"), TypeError("two")])


def test_plain_lines_fail_on_and_ignore():
    lines = numbered(["INFO started", "ERROR db down", "ERROR expected noise (healthcheck)",
                      "CRITICAL disk", "error lowercase is fine", "ERROR-prefixed word still counts"])
    result = scan(lines, FAIL_ON, ignore=[r"healthcheck"])
    assert result.lines_scanned == 6
    assert [(f.line, f.pattern) for f in result.findings] == [
        (2, r"\bERROR\b"), (4, r"\bCRITICAL\b"), (6, r"\bERROR\b")]
    assert result.findings[0] == Finding(2, "ERROR db down", r"\bERROR\b", ["ERROR db down"])
    assert result.total_findings == 3 and not result.is_clean


def test_clean_log():
    result = scan(numbered(["INFO a", "INFO b"]), FAIL_ON, [])
    assert result == LogScan(lines_scanned=2, findings=[], total_findings=0) and result.is_clean


def test_traceback_is_one_finding_with_exception_line_as_text():
    tb = real_traceback(boom)
    lines = numbered(["INFO before", "ERROR: Exception in ASGI application", *tb, "INFO after"])
    result = scan(lines, FAIL_ON, [])
    assert result.total_findings == 1          # the record line and its traceback are one finding
    (finding,) = result.findings
    assert finding.line == 2 and finding.text == "ValueError: boom"
    assert finding.excerpt[0] == "ERROR: Exception in ASGI application"
    assert finding.excerpt[1] == "Traceback (most recent call last):"
    assert finding.excerpt[-1] == "ValueError: boom"
    assert len(finding.excerpt) == min(len(tb), 7)


def test_lines_inside_a_traceback_do_not_count_again():
    tb = ["Traceback (most recent call last):",
          '  File "app.py", line 3, in handler',
          '    log.error("ERROR CRITICAL")',
          "RuntimeError: ERROR in handler"]
    result = scan(numbered(tb), FAIL_ON, [])
    assert result.total_findings == 1
    assert result.findings[0].text == "RuntimeError: ERROR in handler"


def test_two_tracebacks_are_two_findings():
    tb1, tb2 = real_traceback(boom), real_traceback(lambda: 1 / 0)
    result = scan(numbered([*tb1, "INFO between", *tb2]), FAIL_ON, [])
    assert [f.text for f in result.findings] == ["ValueError: boom", "ZeroDivisionError: division by zero"]
    assert result.findings[1].line == len(tb1) + 2


def test_back_to_back_tracebacks_are_two_findings():
    tb = real_traceback(boom)
    result = scan(numbered([*tb, *tb]), FAIL_ON, [])
    assert result.total_findings == 2 and result.findings[1].line == len(tb) + 1


def test_chained_tracebacks_are_one_finding():
    for factory, last in [(chained, "RuntimeError: while handling"), (caused, "LookupError: caused")]:
        tb = real_traceback(factory)
        assert sum("Traceback (most recent call last)" in line for line in tb) == 2
        result = scan(numbered([*tb, "INFO after"]), FAIL_ON, [])
        assert result.total_findings == 1, tb
        finding = result.findings[0]
        assert finding.text == last and finding.line == 1
        assert finding.excerpt[0] == "Traceback (most recent call last):" and finding.excerpt[-1] == last
        assert any("lines omitted" in line for line in finding.excerpt)


def test_exception_group_is_one_finding():
    tb = real_traceback(group)
    result = scan(numbered([*tb, "INFO after", "ERROR later"]), FAIL_ON, [])
    assert result.total_findings == 2
    assert result.findings[0].text.strip().lstrip("| ") == "ExceptionGroup: eg (2 sub-exceptions)"
    assert result.findings[1].line == len(tb) + 2


def test_traceback_under_a_log_collector_prefix():
    tb = ["web-1  | " + line for line in real_traceback(boom)]
    result = scan(numbered([*tb, "web-1  | INFO after"]), FAIL_ON, [])
    assert result.total_findings == 1
    assert result.findings[0].text == "web-1  | ValueError: boom"


def test_traceback_cut_short_ends_at_the_first_foreign_line():
    lines = ["Traceback (most recent call last):", '  File "a.py", line 1, in <module>',
             "2024-05-01 12:00:00 ERROR next record"]
    result = scan(numbered(lines), FAIL_ON, [])
    assert [(f.line, f.text) for f in result.findings] == [
        (1, '  File "a.py", line 1, in <module>'), (3, "2024-05-01 12:00:00 ERROR next record")]


def test_ignored_exception_line_drops_the_whole_traceback():
    tb = real_traceback(lambda: (_ for _ in ()).throw(ConnectionResetError("peer")))
    result = scan(numbered([*tb, *real_traceback(boom)]), FAIL_ON, ignore=[r"ConnectionResetError"])
    assert [f.text for f in result.findings] == ["ValueError: boom"]


def test_traceback_counts_only_if_a_fail_on_pattern_matches():
    tb = real_traceback(boom)
    assert scan(numbered(tb), [r"\bCRITICAL\b"], []).total_findings == 0
    assert scan(numbered(tb), [r"boom"], []).findings[0].pattern == "boom"


def test_max_findings_vs_total_findings():
    lines = numbered([f"ERROR number {i}" for i in range(12)])
    result = scan(lines, FAIL_ON, [], max_findings=3)
    assert len(result.findings) == 3 and result.total_findings == 12
    assert [f.line for f in result.findings] == [1, 2, 3]
    assert scan(lines, FAIL_ON, [], max_findings=0).findings == []


def test_long_lines_are_capped_in_findings():
    result = scan(numbered(["ERROR " + "x" * 5000]), FAIL_ON, [])
    assert len(result.findings[0].text) == MAX_TEXT + 1 and result.findings[0].text.endswith("…")


def test_line_numbers_come_from_the_input():
    result = scan([(41, "INFO"), (42, "ERROR x")], FAIL_ON, [])
    assert result.findings[0].line == 42 and result.lines_scanned == 2


def test_bad_pattern_raises_re_error():
    try:
        scan([], ["("], [])
    except re.error:
        return
    raise AssertionError("expected re.error")


WORDS = st.text(alphabet="abcdefghij", min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(patterns=st.lists(WORDS, min_size=1, max_size=4),
       lines=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
                      max_size=30),
       extra=st.lists(st.sampled_from(real_traceback(boom) + real_traceback(caused)), max_size=10))
def test_lines_matching_no_pattern_give_no_findings(patterns, lines, extra):
    fail_on = [re.escape(p) for p in patterns]
    candidates = [*lines, *extra]
    clean = [line for line in candidates if not any(p in line for p in patterns)]
    result = scan(numbered(clean), fail_on, [])
    assert result.findings == [] and result.total_findings == 0
    assert result.lines_scanned == len(clean)


def test_a_logged_exception_is_one_finding_with_its_record_line():
    """logger.exception writes a record line then the traceback: one finding, at the record line."""
    tb = real_traceback(boom)
    lines = ["INFO starting", "2026-01-01 10:00:00 ERROR app: request failed", *tb, "INFO next"]
    result = scan(numbered(lines), FAIL_ON, [])
    assert result.total_findings == 1
    assert result.findings[0].line == 2 and result.findings[0].text == "ValueError: boom"
    assert result.findings[0].excerpt[0].endswith("ERROR app: request failed")


def test_a_passing_line_above_a_traceback_stays_apart():
    tb = real_traceback(boom)
    result = scan(numbered(["INFO just before", *tb]), FAIL_ON, [])
    assert result.total_findings == 1 and result.findings[0].line == 2
