"""The command line: the only place that prints, writes files and picks exit codes."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence, TextIO

from fakeai_contract import __version__
from fakeai_contract.errors import ContractError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_CONTRACT = "fakeai-final"


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() stays testable in-process."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):  # type: ignore[override]
        if message:
            raise UsageError(message.strip())
        raise _Exit(status)


class _Exit(Exception):
    def __init__(self, code: int):
        self.code = code


def _parser() -> _Parser:
    p = _Parser(prog="fakeai-contract", description="Declarative contract tester for OpenAI-compatible LLM servers.")
    p.add_argument("--version", action="version", version=f"fakeai-contract {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a contract against a server")
    run.add_argument("contract", nargs="?", default=DEFAULT_CONTRACT,
                     help=f"contract file or shipped contract name (default: {DEFAULT_CONTRACT})")
    target = run.add_mutually_exclusive_group()
    target.add_argument("--base-url", help="the server's base URL (also FAKEAI_BASE_URL)")
    target.add_argument("--serve-reference", action="store_true",
                        help="start the bundled reference server on a free port, run against it, stop it")
    run.add_argument("--host", help="server host (also FAKEAI_HOST)")
    run.add_argument("--port", help="server port (also FAKEAI_PORT)")
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
    run.add_argument("--only", action="append", default=[], metavar="TAG", help="run only checks with TAG")
    run.add_argument("--skip", action="append", default=[], metavar="TAG", help="skip checks with TAG")
    run.add_argument("--report", action="append", default=[], metavar="FORMAT:PATH",
                     help="also write a report: json, junit, tap or markdown; PATH '-' is stdout")
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

    # The reference server's options are parsed by `serve` itself, so other commands do not pay
    # for importing the server at start-up.
    sub.add_parser("serve", help="run the bundled reference server (see: serve --help)", add_help=False)

    init = sub.add_parser("init", help="scaffold a contract and its schemas to edit")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR")
    return p


def _sets_in(argv: Sequence[str]) -> list[str]:
    """The NAME=VALUE operands of every --set in ARGV (read before parsing can fail)."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--set" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--set="):
            out.append(arg[len("--set="):])
    return out


def _redacted(text: str, sets: Sequence[str]) -> str:
    """TEXT with the secrets known before any contract loads masked: values of variables named
    like KEY, TOKEN, SECRET or PASSWORD, from the environment and from --set."""
    from fakeai_contract.redact import secret_pattern
    from fakeai_contract.contract.variables import is_secret_name

    values = {v for k, v in os.environ.items() if is_secret_name(k)}
    values |= {v for k, _, v in (s.partition("=") for s in sets) if is_secret_name(k)}
    pattern = secret_pattern(values)
    return pattern.sub("***", text) if pattern else text


def _overrides(sets: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set takes NAME=VALUE, got {item!r}; write for example --set FAKEAI_PORT=9000")
        out[name.strip()] = value
    return out


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Entry point: `fakeai-contract ...`; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["serve"]:
            return _cmd_serve(argv[1:], stdout, stderr)
        args = _parser().parse_args(argv)
        if not args.command:
            raise UsageError("a command is needed: run, lint, explain, serve or init "
                             "(try: fakeai-contract run --serve-reference)")
        return _COMMANDS[args.command](args, stdout, stderr)
    except _Exit as exc:
        return exc.code
    except ContractError as exc:
        print(_redacted(exc.render(), _sets_in(argv)), file=stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=stderr)
        return EXIT_INTERRUPTED
    except Exception:  # noqa: BLE001 - an internal bug: say so plainly
        print(traceback.format_exc(), file=stderr)
        print("error: this is a bug in fakeai-contract, not in your contract or server; "
              "please report it with the traceback above", file=stderr)
        return EXIT_BUG


def _cmd_run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from fakeai_contract.run_command import run_command
    return run_command(args, stdout, stderr)


def _cmd_lint(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from fakeai_contract.contract import load_contract
    from fakeai_contract.plan import total_requests

    overrides = _overrides(args.sets)
    failed = 0
    for ref in args.contracts:
        try:
            c = load_contract(ref, overrides=overrides)
        except ContractError as exc:
            failed += 1
            print(_redacted(exc.render(), args.sets), file=stderr)
            continue
        print(f"ok: {ref}: {total_requests(c)} requests, {len(c.endpoints)} endpoints, "
              f"{len(c.checks)} checks", file=stdout)
    return EXIT_INVALID if failed else EXIT_OK


def _cmd_explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from fakeai_contract.explain import explain
    from fakeai_contract.contract import load_contract
    from fakeai_contract.redact import redact

    contract = load_contract(args.contract, overrides=_overrides(args.sets))
    stdout.write(redact(explain(contract), contract.secrets))
    return EXIT_OK


def _cmd_serve(argv: Sequence[str], stdout: TextIO, stderr: TextIO) -> int:
    from fakeai_contract.reference.cli import add_arguments, serve

    parser = _Parser(prog="fakeai-contract serve", description="Run the bundled reference server.")
    add_arguments(parser)
    if any(a in ("-h", "--help") for a in argv):
        stdout.write(parser.format_help())
        return EXIT_OK
    return serve(parser.parse_args(argv))


def _cmd_init(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from fakeai_contract.scaffold import scaffold
    written = scaffold(Path(args.dir))
    for path in written:
        print(f"wrote {path}", file=stdout)
    print(f"next: edit {written[0]}, then run: fakeai-contract lint {written[0]}", file=stdout)
    return EXIT_OK


_COMMANDS = {"run": _cmd_run, "lint": _cmd_lint, "explain": _cmd_explain, "init": _cmd_init}
