"""`fakeai-contract init`: scaffold a contract and its schemas, and say what to do next."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from fakeai_contract import exit_codes


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Write the starter files into the folder named; list them and the next step."""
    from fakeai_contract.scaffold import scaffold

    written = scaffold(Path(args.dir))
    for path in written:
        print(f"wrote {path}", file=stdout)
    print(f"next: edit {written[0]}, then run: fakeai-contract lint {written[0]}", file=stdout)
    return exit_codes.OK
