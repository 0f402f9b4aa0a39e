"""Pure log scanning: lines matching `fail_on` and not `ignore`; a Python traceback is one finding."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

#: Longest line text kept in a finding.
MAX_TEXT = 500
#: Lines kept from each end of a traceback in a finding's excerpt.
EXCERPT_EDGE = 3

_MARKER = re.compile(r"(?P<group>Exception Group )?Traceback \(most recent call last\):\s*$")
# The last line of a traceback: a (dotted) exception name, optionally ': message'.
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?::.*)?$")
_CHAINED = re.compile(r"^\s*(During handling of the above exception, another exception occurred:"
                      r"|The above exception was the direct cause of the following exception:)\s*$")
# Blank lines allowed around a chain message before the next traceback must start.
_MAX_CHAIN_BLANKS = 3


@dataclass(frozen=True)
class Finding:
    """A log line (or a whole traceback) that matched a fail_on pattern."""

    line: int                 # 1-based line number in the run's log (a traceback's first line)
    text: str                 # the line; for a traceback, its exception line
    pattern: str              # the fail_on pattern that matched
    excerpt: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LogScan:
    """What a scan found: the first findings, and how many there were in all."""

    lines_scanned: int
    findings: list[Finding]
    total_findings: int

    @property
    def is_clean(self) -> bool:
        """Whether nothing matched."""
        return self.total_findings == 0


@dataclass
class _Unit:
    """Lines that count as one: a single line, or a whole (possibly chained) traceback."""

    lines: list[tuple[int, str]]
    headline: str             # the text a finding shows
    is_traceback: bool = False


class _Lines:
    """An iterator of numbered lines that can take lines back (for lookahead)."""

    def __init__(self, lines: Iterable[tuple[int, str]]):
        self._it = iter(lines)
        self._back: deque[tuple[int, str]] = deque()
        self.count = 0

    def next(self) -> tuple[int, str] | None:
        if self._back:
            return self._back.popleft()
        item = next(self._it, None)
        if item is not None:
            self.count += 1
        return item

    def push_back(self, items: list[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(items))


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip())


def _log_prefix(text: str, marker: re.Match) -> str:
    """What a log collector put before the traceback (e.g. 'web-1  | '); indentation is not a prefix."""
    prefix = text[:marker.start()]
    if marker.group("group"):
        prefix = re.sub(r"\+\s*$", "", prefix)
    return "" if not prefix.strip() else prefix


def _strip_prefix(text: str, prefix: str) -> str | None:
    return text[len(prefix):] if text.startswith(prefix) else None


def _read_chain(src: _Lines, prefix: str) -> list[tuple[int, str]] | None:
    """After an exception line: the blank lines, chain message and next marker, or None (all taken back)."""
    taken: list[tuple[int, str]] = []
    seen_message = False
    blanks = 0
    while (item := src.next()) is not None:
        taken.append(item)
        rest = _strip_prefix(item[1], prefix)
        if rest is None:
            break
        if not rest.strip():
            blanks += 1
            if blanks > 2 * _MAX_CHAIN_BLANKS:
                break
        elif not seen_message and _CHAINED.match(rest):
            seen_message = True
        elif seen_message and _MARKER.search(rest):
            return taken
        else:
            break
    src.push_back(taken)
    return None


def _read_traceback(src: _Lines, first: tuple[int, str], marker: re.Match) -> _Unit:
    """The traceback that starts at FIRST, its chained tracebacks included."""
    prefix = _log_prefix(first[1], marker)
    if marker.group("group"):
        return _read_group(src, first, prefix)
    block = [first]
    base = _indent(_strip_prefix(first[1], prefix) or "")
    while (item := src.next()) is not None:
        rest = _strip_prefix(item[1], prefix)
        if rest is not None and rest.strip() and _indent(rest) > base:
            block.append(item)                      # a frame, its source line, a caret line
            continue
        if rest is not None and _EXCEPTION_LINE.match(rest[base:].rstrip()) and _indent(rest) == base:
            block.append(item)
            chain = _read_chain(src, prefix)
            if chain is None:
                return _Unit(block, item[1], is_traceback=True)
            block.extend(chain)
            base = _indent(_strip_prefix(chain[-1][1], prefix) or "")
            continue
        src.push_back([item])                       # not part of the traceback (it was cut short)
        break
    return _Unit(block, block[-1][1], is_traceback=True)


def _read_group(src: _Lines, first: tuple[int, str], prefix: str) -> _Unit:
    """An exception group traceback: '|'- and '+'-framed lines; its headline is the group's exception."""
    block = [first]
    headline = None
    while (item := src.next()) is not None:
        rest = _strip_prefix(item[1], prefix)
        if rest is None or not rest.lstrip().startswith(("|", "+")):
            src.push_back([item])
            break
        block.append(item)
        content = rest.lstrip(" |+-").rstrip()
        if headline is None and _EXCEPTION_LINE.match(content):
            headline = item[1]
    return _Unit(block, headline or block[-1][1], is_traceback=True)


def _units(src: _Lines) -> Iterator[_Unit]:
    while (item := src.next()) is not None:
        marker = _MARKER.search(item[1])
        yield _read_traceback(src, item, marker) if marker else _Unit([item], item[1])


def _with_records(units: Iterator[_Unit], fail_on: Sequence[re.Pattern]) -> Iterator[_Unit]:
    """Join a failing log record to the traceback right under it (logger.exception writes both),
    so the logged exception is one finding, not two."""
    pending: _Unit | None = None
    for unit in units:
        if (pending is not None and unit.is_traceback and not pending.is_traceback
                and unit.lines[0][0] == pending.lines[-1][0] + 1
                and _first_match(fail_on, pending.lines[0][1])):
            yield _Unit(pending.lines + unit.lines, unit.headline, is_traceback=True)
            pending = None
            continue
        if pending is not None:
            yield pending
        pending = unit
    if pending is not None:
        yield pending


def _cap(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _excerpt(unit: _Unit) -> list[str]:
    texts = [_cap(text) for _, text in unit.lines]
    if len(texts) <= 2 * EXCERPT_EDGE + 1:
        return texts
    omitted = len(texts) - 2 * EXCERPT_EDGE
    return texts[:EXCERPT_EDGE] + [f"... ({omitted} lines omitted)"] + texts[-EXCERPT_EDGE:]


def _first_match(patterns: Sequence[re.Pattern], text: str) -> re.Pattern | None:
    return next((p for p in patterns if p.search(text)), None)


def _judge(unit: _Unit, fail_on: Sequence[re.Pattern], ignore: Sequence[re.Pattern]) -> Finding | None:
    """The finding UNIT makes, if any. A traceback is ignored when its first or exception line is."""
    if unit.is_traceback and any(_first_match(ignore, t) for t in (unit.lines[0][1], unit.headline)):
        return None
    for _, text in unit.lines:
        if _first_match(ignore, text):
            continue
        pattern = _first_match(fail_on, text)
        if pattern is not None:
            return Finding(line=unit.lines[0][0], text=_cap(unit.headline), pattern=pattern.pattern,
                           excerpt=_excerpt(unit))
    return None


def compile_patterns(patterns: Sequence[str]) -> list[re.Pattern]:
    """Compile each pattern once; raises re.error naming the bad pattern."""
    return [re.compile(p) for p in patterns]


def scan(lines: Iterable[tuple[int, str]], fail_on: Sequence[str], ignore: Sequence[str],
         max_findings: int = 5) -> LogScan:
    """Scan numbered log lines; keep the first MAX_FINDINGS findings and count all of them."""
    fail_re, ignore_re = compile_patterns(fail_on), compile_patterns(ignore)
    src = _Lines(lines)
    findings: list[Finding] = []
    total = 0
    for unit in _with_records(_units(src), fail_re):
        finding = _judge(unit, fail_re, ignore_re)
        if finding is None:
            continue
        total += 1
        if len(findings) < max_findings:
            findings.append(finding)
    return LogScan(lines_scanned=src.count, findings=findings, total_findings=total)
