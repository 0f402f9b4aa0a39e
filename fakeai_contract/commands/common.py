"""What several commands share: --set parsing and masking the secrets known before a contract loads."""

from __future__ import annotations

import os
from typing import Sequence

from fakeai_contract.errors import UsageError


def overrides(sets: Sequence[str]) -> dict[str, str]:
    """The NAME=VALUE pairs of every --set; a malformed one is a usage error."""
    out = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set takes NAME=VALUE, got {item!r}; write for example --set FAKEAI_PORT=9000")
        out[name.strip()] = value
    return out


def sets_in(argv: Sequence[str]) -> list[str]:
    """The NAME=VALUE operands of every --set in ARGV (read before parsing can fail)."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--set" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--set="):
            out.append(arg[len("--set="):])
    return out


def redacted(text: str, sets: Sequence[str], argv: Sequence[str] = ()) -> str:
    """TEXT with the secrets known before any contract loads masked: values of variables named
    like KEY, TOKEN, SECRET or PASSWORD, from the environment and from --set, and URL passwords."""
    from fakeai_contract.redact import secret_pattern
    from fakeai_contract.contract.variables import is_secret_name
    from fakeai_contract.target import url_passwords

    values = {v for k, v in os.environ.items() if is_secret_name(k)}
    values |= {v for k, _, v in (s.partition("=") for s in sets) if is_secret_name(k)}
    for value in [*os.environ.values(), *sets, *argv]:
        values |= url_passwords(value)
    pattern = secret_pattern(values)
    return pattern.sub("***", text) if pattern else text
