"""Locations in contract files, and the user's-mistake error family (exit 2)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Location:
    """A place in a contract file: 1-based line and column."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"


class ContractError(Exception):
    """The contract or the command line is invalid: the user's mistake, reported with exit 2.

    The message has one shape: what is wrong, where, the actual value, and what to write instead.
    """

    def __init__(self, message: str, location: Location | None = None, *, fix: str | None = None,
                 source_line: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.fix = fix
        self.source_line = source_line

    def render(self) -> str:
        """The error as the CLI prints it: file:line:col, what, the source line and caret, the fix."""
        where = f"{self.location}: " if self.location else ""
        lines = [f"error: {where}{self.message}"]
        if self.source_line is not None and self.location and self.location.line:
            gutter = f"{self.location.line:>4} | "
            lines.append(gutter + self.source_line.rstrip("\n"))
            if self.location.column:
                lines.append(" " * (len(gutter) + self.location.column - 1) + "^")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class ContractErrors(ContractError):
    """Several contract errors found in one pass; rendered one after another."""

    def __init__(self, errors: Iterable[ContractError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.location, fix=first.fix, source_line=first.source_line)

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


class UsageError(ContractError):
    """The command line is invalid."""


def amount(n: int, noun: str) -> str:
    """N and NOUN for a message: '1 attempt', '3 attempts'."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' suggestion for WORD among CHOICES, or None."""
    choices = list(choices)
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return match[0]
    folded = {c.lower(): c for c in choices}      # 'post' is 'POST', whatever difflib thinks
    match = difflib.get_close_matches(word.lower(), list(folded), n=1, cutoff=0.6)
    return folded[match[0]] if match else None
