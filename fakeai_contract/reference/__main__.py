"""python -m fakeai_contract.reference: the reference server without the main CLI."""

from __future__ import annotations

import argparse
import sys

from .cli import add_arguments


def main(argv: list[str] | None = None) -> int:
    """Parse ARGV as `fakeai-contract serve` does and run the server; the exit code."""
    from fakeai_contract.commands import serve

    parser = argparse.ArgumentParser(prog="fakeai-contract serve",
                                     description="Run the bundled FakeAI-compatible reference server.")
    add_arguments(parser)
    return serve.run(parser.parse_args(argv), sys.stdout, sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
