"""`fakeai-contract run`: load, start a server if asked, run, report, stop."""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from fakeai_contract import exit_codes
from fakeai_contract.commands.common import overrides as _overrides
from fakeai_contract.context import RunOptions
from fakeai_contract.errors import UsageError, amount, did_you_mean

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def _check_names(args: argparse.Namespace, contract) -> None:
    """--only/--skip tags no check has, and --set names the contract never uses, are typos: exit 2."""
    tags = sorted({t for check in contract.checks for t in check.tags})
    for flag, values in (("--only", args.only), ("--skip", args.skip)):
        for tag in values:
            if tag not in tags:
                hint = did_you_mean(tag, tags)
                raise UsageError(f"{flag} {tag}: no check has the tag {tag!r}"
                                 + (f"; did you mean {hint!r}?" if hint else ""),
                                 fix="tags of this contract's checks: " + (", ".join(tags) or "none"))
    used: set[str] = set()
    words: set[str] = set()         # a declared var, or one a check reads as vars.NAME
    for path in {*contract.files, contract.source}:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        used |= set(_VARIABLE.findall(text))
        words |= set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    for item in args.sets:
        name = item.partition("=")[0].strip()
        if name and name not in used and name not in words:
            hint = did_you_mean(name, sorted(used))
            raise UsageError(f"--set {name}: the contract uses no variable {name!r}"
                             + (f"; did you mean {hint!r}?" if hint else ""),
                             fix="variables this contract uses: " + (", ".join(sorted(used)) or "none"))


def _color(args: argparse.Namespace, stream: TextIO) -> bool:
    if args.no_color or os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class _Progress:
    """Progress on stderr: live lines on a TTY; off a TTY a line every few seconds of the health
    wait and of the load, so a CI log shows what the run is waiting for and how far it got."""

    PERIOD_S = 5.0          # off a TTY: the first line of a phase after this long, then this often

    def __init__(self, stream: TextIO, *, live: bool, periodic: bool):
        self.stream = stream
        self.live = live
        self.periodic = periodic and not live
        self.last = 0.0
        self.next_report = self.PERIOD_S
        self.next_load = self.PERIOD_S
        self.duration_s: float | None = None
        self.shown = False

    def __call__(self, event: str, data: dict[str, Any]) -> None:
        handler = {"request": self._request, "health": self._health, "phase": self._phase}.get(event)
        if handler is not None:
            handler(data)

    def _line(self, text: str) -> None:
        self.stream.write(f"\r\x1b[K{text}")
        self.stream.flush()
        self.shown = True

    def _throttled(self, final: bool) -> bool:
        now = time.monotonic()
        if now - self.last < 0.1 and not final:
            return True
        self.last = now
        return False

    def _request(self, data: dict[str, Any]) -> None:
        """A request finished (or, with --workers, the workers' counts arrived)."""
        if self.live and not self._throttled(data["done"] == data["of"]):
            self._line(f"  {self._load_text(data)} ")
        elif self.periodic and data["elapsed_s"] >= self.next_load:
            self.next_load = data["elapsed_s"] + self.PERIOD_S
            self.stream.write(self._load_text(data) + "\n")
            self.stream.flush()

    def _load_text(self, data: dict[str, Any]) -> str:
        # A duration run has no total (`of` is 0): it says how long it has run of how long.
        done = f"{data['done']}/{data['of']}" if data["of"] else f"{data['done']}"
        elapsed = f"{data['elapsed_s']:.1f}s" + (f" of {self.duration_s:g}s" if self.duration_s else "")
        workers = f" ({data['workers']} workers)" if data.get("workers", 1) > 1 else ""
        return f"load: {done} done, {data['failed']} failed, {elapsed}{workers}"

    def _health(self, data: dict[str, Any]) -> None:
        last = f" (last: {data['last']})" if data.get("last") else ""
        text = (f"waiting for {data['url']}: {amount(data['attempts'], 'attempt')}, "
                f"{data['elapsed_s']:.1f}s of {data['timeout']:g}s{last}")
        if self.live and not self._throttled(False):
            self._line("  health: " + text[:150])
        elif self.periodic and data["elapsed_s"] >= self.next_report:
            self.next_report = data["elapsed_s"] + self.PERIOD_S
            self.stream.write(f"health: {text}\n")
            self.stream.flush()

    def _phase(self, data: dict[str, Any]) -> None:
        self.clear()
        if data.get("name") == "load":
            self.duration_s = data.get("duration_s")
            self.next_load = self.PERIOD_S

    def clear(self) -> None:
        if self.live and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def command_port(command: str) -> str | None:
    """The port COMMAND is told to listen on (`--port N` or `--port=N`), or None."""
    import shlex

    try:
        argv = shlex.split(command)
    except ValueError:
        return None             # the server start reports the unbalanced quote
    for i, arg in enumerate(argv):
        if arg == "--port" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--port="):
            return arg.split("=", 1)[1]
    return None


def _target_overrides(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    from fakeai_contract.target import check_host, check_port

    if args.host:
        overrides["FAKEAI_HOST"] = check_host(args.host)
    if args.port:
        overrides["FAKEAI_PORT"] = check_port(args.port)
    elif args.serve and not args.base_url:
        # The started server listens where its command says: health and traffic go there.
        port = command_port(args.serve)
        if port is not None:
            overrides["FAKEAI_PORT"] = check_port(port, "--serve COMMAND's --port")
    for name, check in (("FAKEAI_HOST", check_host), ("FAKEAI_PORT", check_port)):
        if name not in overrides and os.environ.get(name):
            check(os.environ[name], name)


def _server_log_path(args: argparse.Namespace, reports: list[tuple[str, str]]) -> Path:
    if args.server_log:
        return Path(args.server_log)
    for _fmt, path in reports:
        if path != "-":
            return Path(path).parent / "server.log"
    return Path("fakeai-contract-server.log")


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run the contract as ARGS ask; the terminal report and any --report; the exit code."""
    from fakeai_contract import lifecycle, logsource, target
    from fakeai_contract.contract import load_contract
    from fakeai_contract.output import parse_report_spec
    from fakeai_contract.runner import new_ledger, run_sync

    overrides = _overrides(args.sets)
    _target_overrides(args, overrides)
    reports = [parse_report_spec(spec) for spec in args.report]
    if args.serve is not None and args.serve_reference:
        raise UsageError("--serve and --serve-reference both start a server; choose one")
    port = None
    if args.serve_reference:
        port = lifecycle.free_port()
        overrides["FAKEAI_HOST"] = "127.0.0.1"
        overrides["FAKEAI_PORT"] = str(port)
    contract = load_contract(args.contract, overrides=overrides)
    _check_names(args, contract)
    from fakeai_contract.output import check_destination

    for spec in reports:
        check_destination(spec)
    baseline = None
    if getattr(args, "baseline", None):   # read before anything is sent: a bad baseline is exit 2
        from fakeai_contract.commands.compare import load_ledger
        baseline = load_ledger(args.baseline, "--baseline")
    base_url = None if args.serve_reference else (args.base_url or os.environ.get("FAKEAI_BASE_URL"))
    if args.serve_reference:
        base_url = f"http://127.0.0.1:{port}"
    if base_url:
        contract = replace(contract, target=replace(contract.target, base_url=base_url))
    origin = ("--base-url" if args.base_url else "FAKEAI_BASE_URL") if base_url and not args.serve_reference \
        else f"{contract.source}: target.base_url"
    contract, target_url = target.prepare(contract, origin=origin, insecure=args.insecure)

    server = None
    log_source = None
    if args.serve_reference or args.serve is not None:
        log_path = _server_log_path(args, reports)
        if log_path.exists():
            log_path.unlink()
        if args.serve_reference:
            server = lifecycle.ServerProcess(lifecycle.reference_command(args.reference_arg, port),
                                             log_path=log_path)
        elif args.serve:
            server = lifecycle.ServerProcess(args.serve, shell=False, log_path=log_path)
        else:
            spec = contract.server
            if spec is None:
                raise UsageError(f"--serve without a COMMAND starts the contract's server: block, and "
                                 f"{contract.source} has none; write --serve \"COMMAND\"")
            server = lifecycle.ServerProcess(spec.command, shell=spec.shell, env=spec.env, log_path=log_path,
                                             stop_signal=spec.stop_signal, grace=spec.grace)
            contract = replace(contract, health=replace(contract.health, timeout=spec.ready_timeout))
    elif args.log_file:
        log_source = logsource.TailedLog(Path(args.log_file))
        log_source.start()

    progress = _Progress(stderr, live=not args.quiet and bool(getattr(stderr, "isatty", lambda: False)()),
                         periodic=not args.quiet)
    options = RunOptions(only=tuple(args.only), skip=tuple(args.skip), verbose=args.verbose,
                         log_source=log_source, server=server, observer=progress,
                         workers=getattr(args, "workers", 1))
    ledger = new_ledger(contract)
    ledger.target = target_url.written
    if target_url.api_root:
        ledger.meta["target"] = {"base_url": target_url.written, "server_root": target_url.root,
                                 "api_root": True, "note": target_url.describe()}
    if server is not None:
        ledger.meta["server"] = {"command": server.display(), "log": str(log_path)}
    if server is not None:
        server.start()          # a command that cannot start is the user's mistake: exit 2, no report
        options = replace(options, log_source=logsource.CapturedLog(log_path, server.log_start))
    handles_signals = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    previous_int = signal.getsignal(signal.SIGINT)
    if handles_signals:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run_sync(contract, options, ledger)
    except KeyboardInterrupt:
        ledger.interrupted = True
    finally:
        # A second Ctrl-C (or SIGTERM) while the server is stopped or the reports are written would
        # lose the ledger; cleanup is bounded (the server's grace, then SIGKILL), so ignore them.
        if handles_signals:
            signal.signal(signal.SIGTERM, _ignore_during_cleanup)
            signal.signal(signal.SIGINT, _ignore_during_cleanup)
        progress.clear()
        if server is not None:
            server.stop()
        if isinstance(log_source, logsource.TailedLog):
            log_source.close()
        ledger.finish()
        try:
            code = _emit(args, contract, ledger, reports, stdout, stderr, baseline)
        finally:
            if handles_signals:
                signal.signal(signal.SIGTERM, previous)
                if previous_int is not None:
                    signal.signal(signal.SIGINT, previous_int)
    return code


def _raise_interrupt(signum, frame):
    """SIGTERM as Ctrl-C: inside asyncio.run its SIGINT handler cancels the run cleanly, where a
    KeyboardInterrupt raised here could land inside any task and be reported as never retrieved."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler) and handler is not _ignore_during_cleanup:
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _ignore_during_cleanup(signum, frame):
    """A second SIGINT or SIGTERM while the server stops and the ledger is written must not lose it."""


def _emit(args, contract, ledger, reports, stdout: TextIO, stderr: TextIO, baseline: dict | None = None) -> int:
    from fakeai_contract.output import append_text, step_summary_path, write_atomic
    from fakeai_contract.redact import redact
    from fakeai_contract.report import render

    doc = redact(ledger.to_dict(), contract.secrets)
    to_stdout = any(path == "-" for _fmt, path in reports)
    terminal_stream = stderr if to_stdout else stdout
    terminal = render("terminal", doc, color=_color(args, terminal_stream), verbose=args.verbose,
                      quiet=args.quiet)
    terminal_stream.write(terminal)
    comparison = None
    if baseline is not None:
        from fakeai_contract.comparison import compare
        comparison = redact(compare(baseline, doc), contract.secrets)
        regressions = comparison["regressions"]
        terminal_stream.write(f"against the baseline: {len(regressions)} regression(s)"
                              + "".join(f"\n  {r}" for r in regressions) + "\n")
    terminal_stream.flush()
    for fmt, path in reports:
        text = render(fmt, doc, comparison=comparison)
        if path == "-":
            stdout.write(text)
            stdout.flush()
        else:
            try:
                write_atomic(path, text)
            except OSError as exc:
                print(f"error: cannot write the {fmt} report to {path}: {exc.strerror or exc}", file=stderr)
                return max(doc["summary"]["exit_code"], exit_codes.FAILED)
    summary = step_summary_path(os.environ)
    if summary is not None:
        try:
            append_text(summary, render("markdown", doc))
        except OSError as exc:
            print(f"warning: cannot append to $GITHUB_STEP_SUMMARY ({summary}): {exc}", file=stderr)
    return doc["summary"]["exit_code"]
