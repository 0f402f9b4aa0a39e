"""Secret redaction: applied to the ledger document before any reporter sees it."""

from __future__ import annotations

import copy
import json
import re
from typing import Any, Iterable

MASK = "***"
MIN_SECRET_LENGTH = 4        # shorter values would mask innocent text everywhere


def secret_pattern(secrets: Iterable[Any]) -> re.Pattern[str] | None:
    """One pattern matching any secret, longest first, or None when there is nothing to hide."""
    usable = set()
    for secret in secrets:
        if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH:
            # Messages quote values with repr() or JSON, which escape quotes and backslashes:
            # mask those spellings of the secret too.
            usable.update({secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]})
    if not usable:
        return None
    # Longest first, so a secret that contains another is masked whole, not in pieces.
    ordered = sorted(usable, key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in ordered))


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = _scrub(k, pattern)
            while key in out:   # two keys masked alike must not overwrite each other
                key = f"{key}'"
            out[key] = _scrub(v, pattern)
        return out
    if isinstance(value, (list, tuple)):
        items = [_scrub(v, pattern) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, (set, frozenset)):
        return type(value)(_scrub(v, pattern) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return pattern.sub(MASK, bytes(value).decode("utf-8", "replace"))
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Any other object: its text is what a reporter would show, so scrub that.
    try:
        text = str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"
    if pattern.search(text):
        return pattern.sub(MASK, text)
    try:
        return copy.deepcopy(value)
    except Exception:
        return text


def redact(doc: Any, secrets: Iterable[str]) -> Any:
    """A deep copy of DOC with every secret inside any string (keys and values) replaced by ***."""
    pattern = secret_pattern(secrets)
    if pattern is None:
        return _scrub(doc, re.compile(r"(?!)"))
    return _scrub(doc, pattern)
