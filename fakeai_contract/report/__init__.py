"""Reporters: pure functions from the ledger document to text, one per output format."""

from __future__ import annotations

from typing import Callable

from fakeai_contract.report import html, json, junit, markdown, tap, terminal

Renderer = Callable[..., str]

#: format name → renderer(doc, *, color, verbose, quiet) -> str
FORMATS: dict[str, Renderer] = {
    "terminal": terminal.render,
    "json": json.render,
    "junit": junit.render,
    "tap": tap.render,
    "markdown": markdown.render,
    "html": html.render,
}
#: Formats that can embed a comparison with a baseline ledger.
TAKES_COMPARISON = ("html", "markdown")


def render(fmt: str, doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False,
           comparison: dict | None = None) -> str:
    """The ledger document DOC rendered in format FMT (with COMPARISON where the format shows one)."""
    try:
        renderer = FORMATS[fmt]
    except (KeyError, TypeError):
        raise ValueError(f"unknown report format {fmt!r}; formats: {', '.join(FORMATS)}") from None
    extra = {"comparison": comparison} if comparison is not None and fmt in TAKES_COMPARISON else {}
    return renderer(doc, color=color, verbose=verbose, quiet=quiet, **extra)
