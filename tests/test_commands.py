"""The commands write only to the streams they are given, and decide the documented exit codes."""

from __future__ import annotations

import io
import socket
import sys

import pytest

from fakeai_contract import exit_codes
from fakeai_contract.cli import main


@pytest.fixture
def quiet_sys(monkeypatch):
    """sys.stdout and sys.stderr replaced, so a test can show nothing was written to them."""
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    return out, err


def _main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out, err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv, wanted", [
    (("--version",), "fakeai-contract "),
    (("run", "--help"), "usage: fakeai-contract run"),
    (("serve", "--help"), "usage: fakeai-contract serve"),
])
def test_help_and_version_go_to_the_given_stdout(quiet_sys, argv, wanted):
    code, out, err = _main(*argv)
    assert code == exit_codes.OK
    assert out.startswith(wanted) and err == ""
    assert quiet_sys[0].getvalue() == quiet_sys[1].getvalue() == ""


def test_serve_that_cannot_listen_exits_1_with_one_line_on_the_given_stderr(quiet_sys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        code, out, err = _main("serve", "--host", "127.0.0.1", "--port", str(taken.getsockname()[1]))
    assert code == exit_codes.FAILED
    assert out == "" and err.startswith("fakeai-contract serve: cannot listen on 127.0.0.1:")
    assert len(err.strip().splitlines()) == 1
    assert quiet_sys[0].getvalue() == quiet_sys[1].getvalue() == ""


def test_a_bad_command_line_exits_2_on_the_given_stderr(quiet_sys):
    code, out, err = _main("run", "--no-such-option")
    assert code == exit_codes.INVALID
    assert out == "" and "unrecognized arguments: --no-such-option" in err
    assert quiet_sys[0].getvalue() == quiet_sys[1].getvalue() == ""


def test_exit_codes_are_the_documented_ones():
    assert (exit_codes.OK, exit_codes.FAILED, exit_codes.INVALID, exit_codes.INTERNAL,
            exit_codes.INTERRUPTED) == (0, 1, 2, 3, 130)
