"""`fakeai-contract lint`: validate contracts and the schemas they name; run nothing."""

from __future__ import annotations

import argparse
from typing import TextIO

from fakeai_contract import exit_codes
from fakeai_contract.commands.common import overrides, redacted
from fakeai_contract.errors import ContractError, amount


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Lint every contract named; one line each; exit 2 if any is invalid."""
    from fakeai_contract.contract import load_contract
    from fakeai_contract.plan import AUTO, AUTO_TEXT, total_requests, uses_auto

    values = overrides(args.sets)
    failed = 0
    for ref in args.contracts:
        try:
            c = load_contract(ref, overrides=values)
        except ContractError as exc:
            failed += 1
            print(redacted(exc.render(), args.sets), file=stderr)
            continue
        counts = ", ".join(amount(n, what) for n, what in ((total_requests(c), "request"),
                                                           (len(c.endpoints), "endpoint"), (len(c.checks), "check")))
        print(f"ok: {ref}: {counts}" + (f"; models: {AUTO} ({AUTO_TEXT})" if uses_auto(c) else ""), file=stdout)
        for removal in c.removed:
            print(f"  removes {removal}", file=stdout)
    return exit_codes.INVALID if failed else exit_codes.OK
