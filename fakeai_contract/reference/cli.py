"""The reference server's options and its foreground run until SIGINT or SIGTERM; it prints
nothing itself and raises ServeError when it cannot start (commands.serve writes and exits)."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import signal
from typing import Callable, TextIO

from .flavors import NAMES as FLAVOR_NAMES
from .options import DEFAULT_CLI_PORT, EVENT_TYPES, ReferenceOptions
from .server import MISSING_EXTRA, bind_socket, display_url, has_reference_extra, make_uvicorn_server
from .timing import run_precise

LISTENING = "fakeai-contract reference server listening on {url}"
"""The line announcing the URL once the server accepts connections (ReferenceProcess waits for it)."""


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
_factor = _typed(float, lambda v: 0 < v < float("inf"), "a factor > 0")
_event_types = _typed(lambda text: tuple(t.strip() for t in text.split(",") if t.strip()),
                      lambda v: set(v) <= set(EVENT_TYPES), "event types among " + ", ".join(EVENT_TYPES))
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
                    "help": "phantom requests added to /metrics total_requests and to /metrics/prometheus's request counter "
                             "(nothing else) once it has served a request (default: %(default)s)"}),
    ("--miscount-errors", {"metavar": "N", "type": _count,
                           "help": "phantom failed requests added to /metrics/errors total_requests and total_errors "
                                   "and to the SLO success rate and budget computed from them (not to error_rate, "
                                   "the breakdowns or the SLO verdict) once it has served a request "
                                   "(default: %(default)s)"}),
    ("--miscount-streams", {"metavar": "N", "type": _count,
                            "help": "phantom streams added to /metrics/streaming total_streams (nothing else) once "
                                    "it has served a stream (default: %(default)s)"}),
    ("--unpublished", {"metavar": "TYPES", "type": _event_types,
                       "help": "event types never published on the bus, comma-separated (e.g. "
                               "request.started,stream.started), as a code path that forgets to: the events "
                               "metrics and the trackers fed by them miss them (default: none)"}),
    ("--event-lag", {"metavar": "S", "type": _seconds,
                     "help": "apply each metrics event this long after it was published (default: %(default)s)"}),
    ("--log-errors", {"action": "store_true", "help": "log a Traceback to stderr for every 500 served"}),
    ("--seed", {"metavar": "N", "type": int, "help": "seed for the error and drop decisions (default: random)"}),
    ("--crash-after", {"metavar": "N", "type": _count,
                       "help": "die abruptly (exit 70, no cleanup) on the Nth chat request, as a crashing "
                               "server would (default: never)"}),
    ("--stall-after", {"metavar": "N", "type": _count,
                       "help": "at the Nth chat request, stop answering chat requests for --stall seconds, "
                               "as a server in a long pause would (default: never)"}),
    ("--stall", {"metavar": "S", "type": _seconds, "help": "how long --stall-after stalls (default: %(default)s)"}),
    ("--slo-target", {"metavar": "F", "type": _target,
                      "help": "availability target of /metrics/slo (default: %(default)s)"}),
    ("--access-log", {"action": "store_true", "help": "log every request (uvicorn access log)"}),
    ("--flavor", {"choices": FLAVOR_NAMES,
                  "help": "look like that server: its health and model routes, response shapes and "
                          "Prometheus metrics (default: the seed's FakeAI surface)"}),
    ("--timing-skew", {"metavar": "S", "type": _seconds,
                       "help": "with --flavor: every duration the Prometheus metrics record is S longer "
                               "than the one served (default: %(default)s)"}),
    ("--timing-scale", {"metavar": "F", "type": _factor,
                        "help": "with --flavor: every duration the Prometheus metrics record is F times the one "
                                "served (3: it over-reports, 0.3: it under-reports; --timing-skew is added "
                                "after) (default: %(default)s)"}),
    ("--prom-skew", {"metavar": "F", "type": _factor,
                      "help": "/metrics/prometheus records every duration (TTFT, inter-token and request latency) "
                              "multiplied by F (its histograms lie; the responses keep their timing) (default: %(default)s)"}),
    ("--api-key", {"metavar": "KEY",
                   "help": "with --flavor: answer 401 to requests without 'Authorization: Bearer KEY' "
                           "on the routes that server guards"}),
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


class ServeError(Exception):
    """The reference server could not start; the message says why, for the user."""


class MissingExtra(ServeError):
    """starlette or uvicorn is not installed."""


class BadOptions(ServeError):
    """The options parse but do not make a valid ReferenceOptions."""


class CannotListen(ServeError):
    """The address cannot be bound (in use, not ours, ...)."""


def _configure_logging(stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("fakeai_contract.reference")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _uvicorn_log_config(stdout: TextIO, stderr: TextIO) -> dict:
    """uvicorn's own logging configuration, writing to the streams given instead of sys's."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    streams = {"default": stderr, "access": stdout}
    for name, handler in config.get("handlers", {}).items():
        if name in streams and "stream" in handler:
            handler["stream"] = streams[name]
    return config


def serve(args: argparse.Namespace, announce: Callable[[str], None], stdout: TextIO, stderr: TextIO) -> None:
    """Run the reference server in the foreground until SIGINT or SIGTERM; ANNOUNCE gets its URL
    once it accepts connections; logs go to STDOUT (access) and STDERR. Raises ServeError."""
    if not has_reference_extra():
        raise MissingExtra(MISSING_EXTRA)
    try:
        options = options_from_args(args)
    except ValueError as exc:
        raise BadOptions(f"fakeai-contract serve: error: {exc}") from None
    try:
        sock = bind_socket(options.host, options.port)
    except OSError as exc:
        raise CannotListen(f"fakeai-contract serve: cannot listen on {options.host}:{options.port}: "
                           f"{exc.strerror or exc}") from None
    _configure_logging(stderr)
    url = display_url(options.host, sock.getsockname()[1])
    server = make_uvicorn_server(options, log_config=_uvicorn_log_config(stdout, stderr),
                                 announce=lambda: announce(url))
    # uvicorn re-raises the signal that stopped it once it has shut down; with these handlers in
    # place that re-raise is a no-op, so a requested stop ends in exit code 0.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_precise(server.serve(sockets=[sock]))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
