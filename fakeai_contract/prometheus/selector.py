"""PromQL-style series selectors: `name{label="v", other!="w", re=~"x.*", nre!~"y"}`."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Callable, Mapping

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("=~", "!~", "!=", "=")          # longest first, so '=~' is not read as '='
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\", '"': '"', "'": "'"}


class SelectorError(ValueError):
    """A selector that is not valid PromQL; `column` is the 1-based position of the problem."""

    def __init__(self, text: str, message: str, column: int):
        super().__init__(f"{message} at column {column} of `{text}`")
        self.text, self.reason, self.column = text, message, column


_LEADING_FLAGS = re.compile(r"^\(\?([imsU]+)\)")


def _regex(pattern: str) -> re.Pattern:
    # PromQL anchors regexes at both ends (fullmatch) and lets '.' match a newline (Prometheus 3).
    # RE2 allows a leading '(?i)'; Python wants it scoped once the pattern is wrapped.
    m = _LEADING_FLAGS.match(pattern)
    if m:
        pattern = f"(?{m.group(1).replace('U', '')}:{pattern[m.end():]})"
    return re.compile(f"(?:{pattern})", re.DOTALL)


#: matcher operator → (label value, operand) → matched
MATCHERS: dict[str, Callable[[str, object], bool]] = {
    "=": lambda value, want: value == want,
    "!=": lambda value, want: value != want,
    "=~": lambda value, rx: rx.fullmatch(value) is not None,
    "!~": lambda value, rx: rx.fullmatch(value) is None,
}


@dataclass(frozen=True)
class Matcher:
    """One label matcher; an absent label has the empty value, as in PromQL."""

    label: str
    op: str
    value: str

    @functools.cached_property
    def _operand(self):
        return _regex(self.value) if self.op in ("=~", "!~") else self.value

    def matches(self, value: str) -> bool:
        return MATCHERS[self.op](value, self._operand)

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.label}{self.op}"{escaped}"'


@dataclass(frozen=True)
class Selector:
    """A metric name (or None) and label matchers."""

    name: str | None
    matchers: tuple[Matcher, ...]
    text: str

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        """Whether the series NAME{LABELS} is selected."""
        if self.name is not None and name != self.name:
            return False
        for m in self.matchers:
            value = name if m.label == "__name__" else labels.get(m.label, "")
            if not m.matches(value):
                return False
        return True

    def with_name(self, name: str) -> "Selector":
        """The same matchers on another metric name (a histogram's _bucket, _count, _sum)."""
        return Selector(name, self.matchers, self.text)

    def __str__(self) -> str:
        inner = ", ".join(str(m) for m in self.matchers)
        return f"{self.name or ''}{{{inner}}}" if inner or not self.name else self.name


class _Reader:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def fail(self, message: str, at: int | None = None) -> SelectorError:
        return SelectorError(self.text, message, (self.pos if at is None else at) + 1)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self, pattern: re.Pattern, what: str) -> str:
        m = pattern.match(self.text, self.pos)
        if not m:
            raise self.fail(f"expected {what}, found {self.peek() or 'the end'!r}")
        self.pos = m.end()
        return m.group()

    def string(self) -> str:
        quote = self.peek()
        if quote not in ('"', "'", "`"):
            raise self.fail(f"expected a quoted label value, found {self.peek() or 'the end'!r}")
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise self.fail("unterminated string", start)
            ch = self.text[self.pos]
            self.pos += 1
            if ch == quote:
                return "".join(out)
            if ch == "\\" and quote != "`":
                out.append(self._escape())
            elif ch == "\n" and quote != "`":
                raise self.fail("newline in a quoted string", self.pos - 1)
            else:
                out.append(ch)

    def _escape(self) -> str:
        ch = self.peek()
        self.pos += 1
        if ch in _ESCAPES:
            return _ESCAPES[ch]
        widths = {"x": 2, "u": 4, "U": 8}
        if ch in widths:
            digits = self.text[self.pos:self.pos + widths[ch]]
            if len(digits) != widths[ch] or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise self.fail(f"bad \\{ch} escape", self.pos - 2)
            self.pos += widths[ch]
            return chr(int(digits, 16))
        raise self.fail(f"unknown escape \\{ch}", self.pos - 2)


@functools.lru_cache(maxsize=512)
def parse(text: str) -> Selector:
    """Parse a selector (raises SelectorError with the column of the problem)."""
    r = _Reader(text)
    r.skip_space()
    name = r.token(_NAME, "a metric name or '{'") if r.peek() != "{" else None
    matchers: list[Matcher] = []
    r.skip_space()
    if r.peek() == "{":
        r.pos += 1
        r.skip_space()
        while r.peek() != "}":
            at = r.pos
            label = r.token(_LABEL, "a label name")
            r.skip_space()
            op = next((o for o in _OPS if r.text.startswith(o, r.pos)), None)
            if op is None:
                raise r.fail(f"expected one of = != =~ !~ after {label}")
            r.pos += len(op)
            r.skip_space()
            value = r.string()
            if op in ("=~", "!~"):
                try:
                    _regex(value)
                except re.error as exc:
                    raise r.fail(f"invalid regular expression {value!r}: {exc}", at) from None
            matchers.append(Matcher(label, op, value))
            r.skip_space()
            if r.peek() == ",":
                r.pos += 1
                r.skip_space()
            elif r.peek() != "}":
                raise r.fail(f"expected ',' or '}}', found {r.peek() or 'the end'!r}")
        r.pos += 1
        r.skip_space()
    if r.pos != len(text):
        raise r.fail(f"unexpected {r.peek()!r} after the selector")
    if name is not None and any(m.label == "__name__" for m in matchers):
        raise SelectorError(text, "metric name set twice (name and __name__)", 1)
    if name is None and all(m.matches("") for m in matchers):
        raise SelectorError(text, "a selector needs a metric name or a matcher that does not match the empty string", 1)
    return Selector(name, tuple(matchers), text)
