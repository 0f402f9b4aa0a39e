"""Transport failures come from one table, each kind with its message; only network errors are caught,
so a bug in our own decoding is an internal error (exit 3), never a finding about the server."""

from __future__ import annotations

import errno
import ssl
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp.http_exceptions import ContentEncodingError

from fakeai_contract import exit_codes, transport
from fakeai_contract.transport_failures import NETWORK_ERRORS, BodyTooLarge, Kind, from_exception
from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

SMALL = str(Path(__file__).parent / "data" / "contracts" / "hardening" / "small.yaml")
_KEY = SimpleNamespace(host="127.0.0.1", port=9, ssl=True)
_INFO = aiohttp.RequestInfo(url="http://127.0.0.1:9/m", method="GET", headers={}, real_url="http://127.0.0.1:9/m")


def _payload_error(cause: BaseException, text: str) -> aiohttp.ClientPayloadError:
    exc = aiohttp.ClientPayloadError(text)
    exc.__cause__ = cause
    return exc


#: (exception, chunks received, kind, the message it gives)
CASES = [
    (TimeoutError(), 0, Kind.TIMEOUT, "no complete answer within the deadline of 2s"),
    (TimeoutError(), 3, Kind.TIMEOUT, "no complete answer within the deadline of 2s after 3 chunks"),
    (aiohttp.ServerTimeoutError("x"), 1, Kind.SILENT, "the server went silent (read timeout) after 1 chunks"),
    (BodyTooLarge("body exceeds the cap of 10 bytes"), 0, Kind.TOO_LARGE, "body exceeds the cap of 10 bytes"),
    (aiohttp.TooManyRedirects(_INFO, (None, None, None, None)), 0, Kind.REDIRECTS, "too many redirects (4)"),
    (aiohttp.ClientConnectorCertificateError(_KEY, ssl.SSLCertVerificationError(1, "CERTIFICATE_VERIFY_FAILED")),
     0, Kind.TLS, "cannot connect: CERTIFICATE_VERIFY_FAILED"),
    (aiohttp.ClientConnectorError(_KEY, ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")), 0,
     Kind.CONNECT, "cannot connect: Connection refused"),
    (aiohttp.ServerDisconnectedError(), 2, Kind.DISCONNECTED, "the server closed the connection after 2 chunks"),
    (_payload_error(ContentEncodingError("Can not decode content-encoding: gzip"), "400"), 0, Kind.DECOMPRESSION,
     "the response body could not be decompressed: Can not decode content-encoding: gzip"),
    (_payload_error(ConnectionResetError(), "Response payload is not completed: <ConnectionResetError>"), 2,
     Kind.CUT_OFF, "the response body was cut off by a connection reset after 2 chunks"),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), 0, Kind.RESET,
     "connection reset: [Errno 104] Connection reset by peer"),
    (aiohttp.ClientResponseError(_INFO, (), status=400, message="Bad status line"), 0, Kind.BAD_RESPONSE,
     "invalid HTTP response: Bad status line"),
    (aiohttp.InvalidURL("http://[::1"), 0, Kind.INVALID_URL, "invalid URL: http://[::1"),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), 0, Kind.NETWORK, "OSError: [Errno 101] Network is unreachable"),
]


@pytest.mark.parametrize("exc,chunks,kind,message", CASES, ids=[c[2].value + str(c[1]) for c in CASES])
def test_each_network_error_is_a_kind_with_its_message(exc, chunks, kind, message):
    failure = from_exception(exc, 2.0, chunks=chunks)
    assert failure.kind is kind
    assert failure.message.startswith(message), failure.message


def test_every_exception_kind_is_covered_here():
    covered = {kind for _, _, kind, _ in CASES}
    from_data = {Kind.HTTP_STATUS, Kind.NOT_JSON, Kind.NOT_PROMETHEUS, Kind.CONTENT_TYPE, Kind.STREAM}   # made from what arrived
    assert covered | from_data == set(Kind)


@pytest.mark.parametrize("bug", [KeyError("oops"), TypeError("oops"), ValueError("oops"), RecursionError()])
def test_an_error_that_is_not_a_network_error_is_not_a_server_failure(bug):
    assert not isinstance(bug, NETWORK_ERRORS)
    with pytest.raises(TypeError):
        from_exception(bug, 2.0)


# --- a bug of ours in the decoding path reaches exit 3 ---------------------------------------------

@pytest.fixture(scope="module")
def ok_server():
    with MisbehavingServer("ok") as server:
        yield server


def _bug(*args, **kwargs):
    raise KeyError("a bug in our decoding")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["_decode", "_on_event"])
def test_a_bug_in_our_decoding_is_an_internal_error(ok_server, monkeypatch, where):
    monkeypatch.setattr(transport, where, _bug)
    result = run_cli("run", SMALL, "--base-url", ok_server.url, "--report", "json:-", "--no-color",
                     "--set", "SERVER_TIMEOUT=1")
    assert result.code == exit_codes.INTERNAL == 3, (result.code, result.err[-1500:])
    assert "a bug in our decoding" in result.err
    assert "this is a bug in fakeai-contract" in result.err
