"""`fakeai-contract serve`: the bundled reference server in the foreground."""

from __future__ import annotations

import argparse
from typing import TextIO

from fakeai_contract import exit_codes
from fakeai_contract.reference.cli import LISTENING, BadOptions, CannotListen, MissingExtra, ServeError, serve

#: Why the server could not start -> the exit code.
_EXIT_CODES = {MissingExtra: exit_codes.INVALID, BadOptions: exit_codes.INVALID,
               CannotListen: exit_codes.FAILED}


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Serve until SIGINT or SIGTERM (exit 0); announce the URL on STDOUT; a failure to start on STDERR."""

    def announce(url: str) -> None:
        stdout.write(LISTENING.format(url=url) + "\n")
        stdout.flush()

    try:
        serve(args, announce, stdout, stderr)
    except ServeError as exc:
        print(exc, file=stderr)
        return _EXIT_CODES[type(exc)]
    return exit_codes.OK
