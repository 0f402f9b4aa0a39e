"""`fakeai-contract explain`: print the resolved plan."""

from __future__ import annotations

import argparse
from typing import TextIO

from fakeai_contract import exit_codes
from fakeai_contract.commands.common import overrides


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Write the plan of the contract named, secrets masked."""
    from fakeai_contract.contract import load_contract
    from fakeai_contract.explain import explain
    from fakeai_contract.redact import redact

    contract = load_contract(args.contract, overrides=overrides(args.sets))
    stdout.write(redact(explain(contract), contract.secrets))
    return exit_codes.OK
