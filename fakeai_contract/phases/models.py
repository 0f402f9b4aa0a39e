"""Model discovery: `auto` in a model list becomes the ids the server's /v1/models lists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fakeai_contract.context import RunContext
from fakeai_contract.ledger import Entry, Status
from fakeai_contract.plan import MODELS_PATH
from fakeai_contract.transport import HttpClient

ENTRY_ID = "load/models"
_EXCERPT = 200


@dataclass(frozen=True)
class Discovery:
    """The discovery's ledger entry, and the served ids (empty when discovery failed)."""

    entry: Entry
    served: tuple[str, ...] = ()
    problem: str = ""               # why discovery failed, as the user reads it

    @property
    def ok(self) -> bool:
        return self.entry.status is Status.PASS


def _excerpt(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:_EXCERPT] + ("…" if len(text) > _EXCERPT else "")


def served_ids(document: Any) -> tuple[tuple[str, ...], str | None]:
    """The ids `data[*].id` of a /v1/models DOCUMENT in order, deduplicated; or why there are none."""
    if not isinstance(document, dict):
        return (), f"the answer is not a JSON object: {_excerpt(document)}"
    data = document.get("data")
    if not isinstance(data, list):
        return (), f"the answer has no list at 'data': {_excerpt(document)}"
    ids = [item.get("id") if isinstance(item, dict) else None for item in data]
    bad = [i for i, v in enumerate(ids) if not isinstance(v, str) or not v]
    if bad:
        return (), f"data[{bad[0]}] has no string 'id': {_excerpt(data[bad[0]])}"
    if not ids:
        return (), "the server lists no models (data is empty)"
    return tuple(dict.fromkeys(ids)), None


async def discover(ctx: RunContext, transport: HttpClient) -> Discovery:
    """GET /v1/models within the request deadline; a pass entry with the ids, or a fail with what was seen."""
    loc = ctx.location(ctx.contract.load)
    ctx.notify("phase", name="models")
    res = await transport.fetch(MODELS_PATH, method="GET")
    observed: dict[str, Any] = {"path": MODELS_PATH, "http_status": res.http_status}
    expected = {"http_status": "2xx", "data[*].id": "a non-empty list of model ids"}
    if not res.ok:
        problem = res.error or "no answer"
    else:
        ids, problem = served_ids(res.document)
        if not problem:
            observed["ids"] = list(ids)
            entry = Entry(ENTRY_ID, "load", f"Served models from GET {MODELS_PATH}", Status.PASS,
                          observed=observed, expected=expected, message=", ".join(ids),
                          duration_s=res.elapsed_s, tags=("models",), location=loc)
            return Discovery(entry, ids)
    if res.document is not None:
        observed["body"] = _excerpt(res.document)
    entry = Entry(ENTRY_ID, "load", f"Served models from GET {MODELS_PATH}", Status.FAIL,
                  observed=observed, expected=expected, duration_s=res.elapsed_s, tags=("models",),
                  location=loc, message=f"cannot discover the served models for `auto`: {problem}")
    return Discovery(entry, problem=f"GET {MODELS_PATH}: {problem}")
