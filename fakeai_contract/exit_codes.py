"""The process exit codes of every command (DESIGN.md: fixed)."""

OK = 0
"""Every counted entry passed (or the command did what it was asked)."""
FAILED = 1
"""A check failed, the server was unhealthy, nothing was counted, or a server could not listen."""
INVALID = 2
"""The contract or the command line is invalid: the user's mistake; nothing was sent."""
INTERNAL = 3
"""A bug in fakeai-contract itself."""
INTERRUPTED = 130
"""SIGINT or SIGTERM stopped the run; the ledger written so far is kept."""
