"""End to end: `--serve COMMAND` without --port or --base-url sends health and traffic to the command's port."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import pytest

from fakeai_contract.commands.run import command_port
from fakeai_contract.lifecycle import free_port

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("spelling", ["--port {p}", "--port={p}"])
def test_serve_command_port_is_the_target_port(cli, spelling):
    port = free_port()
    command = f"{sys.executable} -m fakeai_contract serve {spelling.format(p=port)}"
    r = cli("run", "fakeai-base", "--serve", command, "--report", "json:-", "--quiet")
    ledger = r.ledger
    assert urlsplit(ledger["target"]).port == port, ledger["target"]
    assert r.code == 0, [e["id"] for e in ledger["entries"] if e["status"] in ("fail", "error")]


def test_an_invalid_port_in_the_serve_command_is_exit_2_before_anything_starts(cli):
    r = cli("run", "fakeai-base", "--serve", f"{sys.executable} -m fakeai_contract serve --port 99999",
            "--report", "json:-", "--quiet")
    assert r.code == 2
    assert "99999" in r.err and "--port" in r.err


@pytest.mark.parametrize(("command", "port"), [
    ("fakeai server --port 8782", "8782"),
    ("fakeai server --port=8782 --host 127.0.0.1", "8782"),
    ("fakeai server -p 8782", None),           # only the two long spellings are understood
    ("fakeai server --ports 8782", None),
    ("fakeai server --port", None),
    ("fakeai server 'unbalanced", None),
])
def test_command_port_reads_only_the_two_long_spellings(command, port):
    assert command_port(command) == port
