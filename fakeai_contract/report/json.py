"""The machine report: the ledger document itself, as JSON (schemas/ledger.schema.json)."""

from __future__ import annotations

import json

from fakeai_contract.report import view


def render(doc: dict, *, color: bool = False, verbose: bool = False, quiet: bool = False) -> str:
    """The ledger as indented JSON; values JSON cannot carry (NaN, bytes, objects) become text."""
    return json.dumps(view.jsonable(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
