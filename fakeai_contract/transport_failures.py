"""What can go wrong between us and the server: one table from failure kind to its cause and message.

The transport catches `NETWORK_ERRORS` around network I/O only and turns each into a `Failure`
with `from_exception`; anything else raised there is a bug of ours and reaches the CLI (exit 3).
Failures found in what did arrive (an HTTP error status, a body that is not JSON, a broken
stream) are made with `Failure(kind, message)` by the transport from the same kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable

import aiohttp


class BodyTooLarge(Exception):
    """The response body went past the configured cap."""


class Kind(str, Enum):
    """The kinds of transport failure."""

    TIMEOUT = "timeout"                  # no complete answer within the request deadline
    SILENT = "read-timeout"              # no byte for longer than the read timeout
    TOO_LARGE = "too-large"              # the body went past target.max_body_bytes
    REDIRECTS = "redirects"              # more redirects than target.max_redirects
    TLS = "tls"                          # the TLS handshake or the certificate failed
    CONNECT = "connect"                  # refused, unreachable, name not resolved
    DISCONNECTED = "disconnected"        # the server closed the connection before answering
    DECOMPRESSION = "decompression"      # Content-Encoding the body does not decode as
    CUT_OFF = "cut-off"                  # the body ended early (often by a reset)
    RESET = "reset"                      # the connection was reset
    BAD_RESPONSE = "bad-response"        # not valid HTTP
    INVALID_URL = "invalid-url"
    NETWORK = "network"                  # any other client or socket error
    HTTP_STATUS = "http-status"          # an answer with a 4xx/5xx status
    NOT_JSON = "not-json"                # a 2xx body that is not the JSON asked for
    NOT_PROMETHEUS = "not-prometheus"    # a 2xx body that is not Prometheus text exposition
    CONTENT_TYPE = "content-type"        # a 2xx stream answer that is not text/event-stream
    STREAM = "stream"                    # the SSE stream broke its protocol (chunk, error event, end)


@dataclass(frozen=True)
class Failure:
    """One transport failure: its kind and the one-line account the ledger shows."""

    kind: Kind
    message: str


#: What the transport catches around network I/O; everything the table below matches is one of these.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, aiohttp.ClientError, OSError, BodyTooLarge)


def _connect_reason(exc: aiohttp.ClientConnectorError) -> str:
    return f"cannot connect: {exc.os_error.strerror or exc}" if exc.os_error else f"cannot connect: {exc}"


def _cut_off(exc: aiohttp.ClientPayloadError, after: str) -> str:
    # aiohttp's text nests reprs of two exceptions; say what happened and the parser's reason.
    how = " by a connection reset" if "ConnectionResetError" in str(exc) else ""
    return f"the response body was cut off{how}{after}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    return getattr(exc.__cause__, "message", None) or str(exc)


def _decompression(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientPayloadError) and \
        isinstance(exc.__cause__, aiohttp.http_exceptions.ContentEncodingError)


def _a(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, types)


#: (matches the exception, kind, message from (exception, deadline, " after N chunks" or "")); first match wins
_EXCEPTIONS: tuple[tuple[Callable[[BaseException], bool], Kind, Callable[[BaseException, float, str], str]], ...] = (
    (_a(aiohttp.ServerTimeoutError), Kind.SILENT, lambda e, d, after: f"the server went silent (read timeout){after}"),
    (_a(TimeoutError), Kind.TIMEOUT, lambda e, d, after: f"no complete answer within the deadline of {d:g}s{after}"),
    (_a(BodyTooLarge), Kind.TOO_LARGE, lambda e, d, after: str(e)),
    (_a(aiohttp.TooManyRedirects), Kind.REDIRECTS, lambda e, d, after: f"too many redirects ({len(e.history)})"),
    (_a(aiohttp.ClientSSLError), Kind.TLS, lambda e, d, after: _connect_reason(e)),
    (_a(aiohttp.ClientConnectorError), Kind.CONNECT, lambda e, d, after: _connect_reason(e)),
    (_a(aiohttp.ServerDisconnectedError), Kind.DISCONNECTED,
     lambda e, d, after: f"the server closed the connection{after}"),
    (_decompression, Kind.DECOMPRESSION,
     lambda e, d, after: f"the response body could not be decompressed{after}: {_reason(e)}"),
    (_a(aiohttp.ClientPayloadError), Kind.CUT_OFF, lambda e, d, after: _cut_off(e, after)),
    (_a(ConnectionResetError, aiohttp.ClientOSError), Kind.RESET, lambda e, d, after: f"connection reset{after}: {e}"),
    (_a(aiohttp.ClientResponseError), Kind.BAD_RESPONSE, lambda e, d, after: f"invalid HTTP response: {e.message}"),
    (_a(aiohttp.InvalidURL), Kind.INVALID_URL, lambda e, d, after: f"invalid URL: {e}"),
    (_a(*NETWORK_ERRORS), Kind.NETWORK, lambda e, d, after: f"{type(e).__name__}: {e}"),
)


def from_exception(exc: BaseException, deadline: float, *, chunks: int = 0) -> Failure:
    """The failure a network exception stands for (CHUNKS: stream chunks already received)."""
    after = f" after {chunks} chunks" if chunks else ""
    for matches, kind, describe in _EXCEPTIONS:
        if matches(exc):
            return Failure(kind, describe(exc, deadline, after))
    raise TypeError(f"{type(exc).__name__} is not a network error") from exc

