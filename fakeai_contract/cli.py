"""The command line: parses the arguments and dispatches to fakeai_contract.commands, which
write the output; the one place that turns an uncaught error into an exit code."""

from __future__ import annotations

import argparse
import sys
import traceback
from functools import partial
from importlib import import_module
from typing import Sequence, TextIO

from fakeai_contract import __version__, exit_codes
from fakeai_contract.commands.common import redacted, sets_in
from fakeai_contract.errors import ContractError, UsageError

DEFAULT_CONTRACT = "fakeai-final"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting and writes help to OUT, so main() stays testable in-process."""

    def __init__(self, *args, out: TextIO | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.out = out

    def _print_message(self, message: str, file: TextIO | None = None) -> None:
        if message:
            stream = file if file not in (None, sys.stdout) else (self.out or sys.stdout)
            stream.write(message)

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _Exit(status)


class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


MAX_WORKERS = 64


def _workers(text: str) -> int:
    """--workers: a whole number of processes, 1..MAX_WORKERS."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, got {text!r}") from None
    if not 1 <= n <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"expected 1..{MAX_WORKERS} processes, got {n}")
    return n


def _parser(out: TextIO) -> _Parser:
    p = _Parser(prog="fakeai-contract", description="Declarative contract tester for OpenAI-compatible LLM servers.",
                out=out)
    p.add_argument("--version", action="version", version=f"fakeai-contract {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=partial(_Parser, out=out))

    run = sub.add_parser("run", help="run a contract against a server")
    run.add_argument("contract", nargs="?", default=DEFAULT_CONTRACT,
                     help=f"contract file or shipped contract name (default: {DEFAULT_CONTRACT})")
    target = run.add_mutually_exclusive_group()
    target.add_argument("--base-url", help="the server's base URL (also FAKEAI_BASE_URL)")
    target.add_argument("--serve-reference", action="store_true",
                        help="start the bundled reference server on a free port, run against it, stop it")
    run.add_argument("--host", help="server host (also FAKEAI_HOST)")
    run.add_argument("--port", help="server port (also FAKEAI_PORT)")
    run.add_argument("--insecure", action="store_true",
                     help="do not verify the server's TLS certificate (as target.tls.verify: false)")
    run.add_argument("--reference-arg", action="append", default=[], metavar="ARG",
                     help="an option for the reference server, e.g. --reference-arg=--error-rate=0.3 (repeatable)")
    run.add_argument("--serve", nargs="?", const="", default=None, metavar="COMMAND",
                     help="start COMMAND (or, with no COMMAND, the contract's server: block), wait for "
                          "health, capture its output as the run's log, stop it afterwards")
    run.add_argument("--server-log", metavar="PATH", help="where to write a started server's output "
                     "(default: server.log beside the first file report, else ./fakeai-contract-server.log)")
    run.add_argument("--log-file", metavar="PATH", help="scan the lines PATH gains during the run")
    run.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                     help="override a contract variable (repeatable)")
    run.add_argument("--workers", type=_workers, default=1, metavar="N",
                     help="send the traffic from N processes, to use more than one core (default: 1)")
    run.add_argument("--only", action="append", default=[], metavar="TAG", help="run only checks with TAG")
    run.add_argument("--skip", action="append", default=[], metavar="TAG", help="skip checks with TAG")
    run.add_argument("--report", action="append", default=[], metavar="FORMAT:PATH",
                     help="also write a report: json, junit, tap, markdown or html; PATH '-' is stdout")
    run.add_argument("--baseline", metavar="PATH",
                     help="a saved JSON ledger to compare with: the html and markdown reports show what changed")
    verbosity = run.add_mutually_exclusive_group()
    verbosity.add_argument("--quiet", "-q", action="store_true", help="print only problems and the summary")
    verbosity.add_argument("--verbose", "-v", action="store_true", help="print every entry with its values")
    run.add_argument("--no-color", action="store_true", help="no colour (NO_COLOR is honoured too)")

    lint = sub.add_parser("lint", help="validate contracts and the schemas they name; run nothing")
    lint.add_argument("contracts", nargs="+", metavar="CONTRACT")
    lint.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets")

    explain = sub.add_parser("explain", help="print the resolved plan: requests, endpoints, checks")
    explain.add_argument("contract", metavar="CONTRACT")
    explain.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets")

    sub.add_parser("serve", help="run the bundled reference server (see: serve --help)", add_help=False)

    compare = sub.add_parser("compare", help="what changed between two saved ledgers; exit 1 on a regression")
    compare.add_argument("baseline", metavar="BASELINE", help="the earlier run's JSON ledger")
    compare.add_argument("current", metavar="CURRENT", help="this run's JSON ledger")
    compare.add_argument("--threshold", action="append", default=[], metavar="KEY=PCT[,FLOOR]",
                         help="a regression is worse by more than PCT percent and FLOOR (e.g. ttft=20%%,10ms); "
                              "keys: ttft, itl, latency, throughput, server, or one percentile like ttft.p99")
    compare.add_argument("--report", action="append", default=[], metavar="FORMAT:PATH",
                         help="also write the comparison: terminal, markdown, json, or html (this run's report "
                              "with the comparison); PATH '-' is stdout")

    init = sub.add_parser("init", help="scaffold a contract and its schemas to edit")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR")
    return p


def _serve_arguments(argv: Sequence[str], stdout: TextIO) -> argparse.Namespace:
    """The parsed options of `serve`; its --help is written to STDOUT (exit 0)."""
    from fakeai_contract.reference.cli import add_arguments

    parser = _Parser(prog="fakeai-contract serve", description="Run the bundled reference server.", out=stdout)
    add_arguments(parser)
    return parser.parse_args(argv)


def _parse(argv: Sequence[str], stdout: TextIO) -> tuple[str, argparse.Namespace]:
    """The command named in ARGV and its parsed arguments."""
    # The reference server's options are parsed apart, so other commands do not pay for
    # importing the server at start-up.
    if argv[:1] == ["serve"]:
        return "serve", _serve_arguments(argv[1:], stdout)
    args = _parser(stdout).parse_args(argv)
    if not args.command:
        raise UsageError("a command is needed: run, lint, explain, serve, init or compare "
                         "(try: fakeai-contract run --serve-reference)")
    return args.command, args


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point: `fakeai-contract ...`; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command, args = _parse(argv, stdout)
        return import_module(f"fakeai_contract.commands.{command}").run(args, stdout, stderr)
    except _Exit as exc:
        return exc.code
    except ContractError as exc:
        print(redacted(exc.render(), sets_in(argv), argv), file=stderr)
        return exit_codes.INVALID
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return exit_codes.INTERRUPTED
    except Exception:  # noqa: BLE001 - an internal bug: say so plainly
        print(traceback.format_exc(), file=stderr)
        print("error: this is a bug in fakeai-contract, not in your contract or server; "
              "please report it with the traceback above", file=stderr)
        return exit_codes.INTERNAL
