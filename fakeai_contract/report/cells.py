"""One Markdown table cell, safe whatever the value: shared by the Markdown report and the comparison."""

from __future__ import annotations

import html
import re

from fakeai_contract.report import view

CELL_LIMIT = 160             # characters of one table cell
# Punctuation that could start emphasis, a link, code, maths or a column break inside a cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def cell(value: object, limit: int = CELL_LIMIT) -> str:
    """VALUE as one safe table cell: clipped, HTML and Markdown escaped, line breaks as <br>."""
    s = value if isinstance(value, str) else view.brief(value, limit * 2)
    s = view.clip(s.replace("\r\n", "\n").replace("\r", "\n"), limit)
    s = html.escape(s, quote=False)
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = view.one_line(s.replace("\n", "<br>"))
    return s or " "
