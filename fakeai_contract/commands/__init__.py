"""The commands behind the CLI: each module's `run(args, stdout, stderr)` writes only to the
streams it is given and returns the exit code (fakeai_contract.exit_codes); `cli` parses and
dispatches to them and is imported by none of them."""

NAMES = ("run", "lint", "explain", "serve", "init", "compare")
"""The commands, as typed on the command line and named as modules of this package."""
