"""`fakeai-contract serve`: its options and its foreground run until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
from typing import Callable

from .options import DEFAULT_CLI_PORT, ReferenceOptions
from .server import MISSING_EXTRA, bind_socket, display_url, has_reference_extra, make_uvicorn_server
from .timing import run_precise

LISTENING = "fakeai-contract reference server listening on {url}"


def _typed(convert: Callable[[str], float], test: Callable[[float], bool], wanted: str):
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value
    parse.__name__ = wanted
    return parse


_seconds = _typed(float, lambda v: v >= 0, "seconds >= 0")
_fraction = _typed(float, lambda v: 0 <= v <= 1, "a fraction between 0 and 1")
_count = _typed(int, lambda v: v >= 0, "an integer >= 0")
_port = _typed(int, lambda v: 0 <= v <= 65535, "a port between 0 and 65535 (0: a free port)")
_target = _typed(float, lambda v: 0 < v < 1, "a target strictly between 0 and 1")

#: Option name, argparse keywords. Defaults come from ReferenceOptions, so both APIs agree.
_OPTIONS: tuple[tuple[str, dict], ...] = (
    ("--host", {"help": "address to bind (default: %(default)s)"}),
    ("--port", {"type": _port, "default": DEFAULT_CLI_PORT,
                "help": "port (default: %(default)s; 0: a free port)"}),
    ("--latency", {"metavar": "S", "type": _seconds,
                   "help": "delay before a non-streaming response (default: %(default)s)"}),
    ("--ttft", {"metavar": "S", "type": _seconds,
                "help": "delay from request arrival to a stream's first content token (default: %(default)s)"}),
    ("--itl", {"metavar": "S", "type": _seconds,
               "help": "delay between a stream's content tokens (default: %(default)s)"}),
    ("--error-rate", {"metavar": "F", "type": _fraction,
                      "help": "fraction of chat requests answered 500 (default: %(default)s)"}),
    ("--drop-stream-rate", {"metavar": "F", "type": _fraction,
                            "help": "fraction of streams cut before the finish chunk and [DONE], "
                                    "still counted successful (default: %(default)s)"}),
    ("--miscount", {"metavar": "N", "type": _count,
                    "help": "phantom requests added to /metrics total_requests (only) once it has served a request (default: %(default)s)"}),
    ("--event-lag", {"metavar": "S", "type": _seconds,
                     "help": "apply each metrics event this long after it was published (default: %(default)s)"}),
    ("--log-errors", {"action": "store_true", "help": "log a Traceback to stderr for every 500 served"}),
    ("--seed", {"metavar": "N", "type": int, "help": "seed for the error and drop decisions (default: random)"}),
    ("--crash-after", {"metavar": "N", "type": _count,
                       "help": "die abruptly (exit 70, no cleanup) on the Nth chat request, as a crashing "
                               "server would (default: never)"}),
    ("--slo-target", {"metavar": "F", "type": _target,
                      "help": "availability target of /metrics/slo (default: %(default)s)"}),
    ("--access-log", {"action": "store_true", "help": "log every request (uvicorn access log)"}),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the reference server's options to PARSER."""
    defaults = ReferenceOptions()
    for flag, keywords in _OPTIONS:
        dest = flag[2:].replace("-", "_")
        keywords = dict(keywords)
        if "default" not in keywords and keywords.get("action") != "store_true":
            keywords["default"] = getattr(defaults, dest)
        parser.add_argument(flag, dest=dest, **keywords)


def options_from_args(args: argparse.Namespace) -> ReferenceOptions:
    """The ReferenceOptions the parsed command line asks for."""
    names = {f.name for f in dataclasses.fields(ReferenceOptions)}
    return ReferenceOptions(**{k: v for k, v in vars(args).items() if k in names and v is not None})


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("fakeai_contract.reference")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _uvicorn_log_config() -> dict:
    from uvicorn.config import LOGGING_CONFIG
    return LOGGING_CONFIG


def serve(args: argparse.Namespace) -> int:
    """Run the reference server in the foreground until SIGINT or SIGTERM; the exit code."""
    if not has_reference_extra():
        print(MISSING_EXTRA, file=sys.stderr)
        return 2
    try:
        options = options_from_args(args)
    except ValueError as exc:
        print(f"fakeai-contract serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(options.host, options.port)
    except OSError as exc:
        print(f"fakeai-contract serve: cannot listen on {options.host}:{options.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    _configure_logging()
    url = display_url(options.host, sock.getsockname()[1])
    server = make_uvicorn_server(options, log_config=_uvicorn_log_config(),
                                 announce=lambda: print(LISTENING.format(url=url), flush=True))
    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers in
    # place that re-raise is a no-op, so a requested stop ends in exit code 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_precise(server.serve(sockets=[sock]))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    return 0
