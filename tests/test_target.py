"""The target: checked before anything is sent, /v1 base URLs, URL credentials, TLS."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
from pathlib import Path

import pytest

from fakeai_contract.reference import ReferenceOptions, ReferenceServer
from tests.helpers import run_cli
from tests.tcp_proxy import RecordingProxy, self_signed_cert, server_context

PASSWORD = "s3cr3t-pw-Zq"


@pytest.fixture(scope="module")
def reference():
    with ReferenceServer(ReferenceOptions()) as srv:
        yield srv


@pytest.fixture
def listener():
    """A socket that listens and never answers: it tells whether anything was sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


MALFORMED = [
    (["--port", "abc"], "--port 'abc' is not a port number"),
    (["--port", "99999"], "--port '99999' is not a port number"),
    (["--host", "::1", "--port", "{port}"], "write --host [::1]"),
    (["--host", "http://127.0.0.1", "--port", "{port}"], "is a URL, not a host"),
    (["--base-url", "127.0.0.1:{port}"], "write http://127.0.0.1:{port}"),
    (["--base-url", "http://::1:{port}"], "in brackets"),
    (["--base-url", "http://127.0.0.1:{port}:1"], "in brackets"),
    (["--base-url", "http://127.0.0.1:0"], "has the port '0'"),
    (["--base-url", "http://127.0.0.1:{port}?x=1"], "query or fragment"),
    (["--base-url", "ftp://127.0.0.1:{port}"], "http:// or https://"),
    (["--base-url", "http://[::1:{port}"], "malformed IPv6"),
    (["--base-url", "http://bad host:{port}"], "no usable host"),
]


@pytest.mark.parametrize("args, fix", MALFORMED, ids=[" ".join(a) for a, _ in MALFORMED])
def test_a_malformed_target_is_exit_2_at_once_with_the_fix_and_nothing_sent(args, fix, listener, tmp_path,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = listener.getsockname()[1]
    argv = ["run", "--no-color", "--report", f"json:{tmp_path / 'r.json'}",
            *[a.format(port=port) for a in args]]
    t0 = time.monotonic()
    result = run_cli(*argv)
    elapsed = time.monotonic() - t0
    assert result.code == 2, result.err
    assert fix.format(port=port) in result.err and "fix:" in result.err, result.err
    assert "Traceback" not in result.err
    assert elapsed < 2.0, elapsed
    assert not _connected(listener)
    assert not (tmp_path / "r.json").exists()


def test_a_malformed_base_url_in_the_contract_names_the_file(tmp_path, listener):
    contract = tmp_path / "c.yaml"
    contract.write_text("contract: c\nversion: 1\nextends: [fakeai-final]\n"
                        f"target: {{base_url: '127.0.0.1:{listener.getsockname()[1]}'}}\n")
    result = run_cli("run", str(contract), "--no-color")
    assert result.code == 2 and f"{contract}:4:" in result.err and "target.base_url" in result.err, result.err
    assert "fix: write base_url: \"http://" in result.err
    assert not _connected(listener)


@pytest.mark.parametrize("suffix", ["/v1", "/v1/"])
def test_a_v1_base_url_is_the_api_root_and_passes_the_shipped_contract(reference, suffix, tmp_path):
    base = reference.base_url + suffix
    report = tmp_path / "ledger.json"
    result = run_cli("run", "fakeai-final", "--base-url", base, "--no-color", "--report", f"json:{report}",
                     "--set", "SERVER_TIMEOUT=10")
    assert result.code == 0, result.out[-3000:]
    ledger = json.loads(report.read_text())
    assert ledger["summary"]["verdict"] == "PASS" and ledger["summary"]["failed"] == 0
    assert ledger["target"] == reference.base_url + "/v1"
    assert ledger["meta"]["target"]["server_root"] == reference.base_url
    target_lines = [ln for ln in result.out.splitlines() if ln.startswith("Target:")]
    assert target_lines == [f"Target:  {reference.base_url}/v1"]
    assert f"API root; health and metrics paths resolve against {reference.base_url}" in result.out


def test_a_path_prefix_is_kept(reference):
    """Only a trailing /v1 is the API root; any other prefix is where every path resolves."""
    t0 = time.monotonic()
    result = run_cli("run", "fakeai-final", "--base-url", reference.base_url + "/proxy", "--no-color", "-q",
                     "--report", "json:-")
    assert result.code == 1
    health = result.ledger["entries"][0]
    assert health["observed"]["http_status"] == 404
    assert f"{reference.base_url}/proxy/health answered HTTP 404" in health["message"]
    # a 404 does not heal: the wait (45 s by default) ends at the first answer, with a hint
    assert time.monotonic() - t0 < 5 and health["observed"]["attempts"] == 1
    assert "waiting does not change that answer" in health["message"] and "health.path" in health["message"]


# --- URL credentials ---------------------------------------------------------------------------

def _credential_contract(tmp_path: Path, port: int) -> Path:
    contract = tmp_path / "creds.yaml"
    contract.write_text("contract: creds\nversion: 1\nextends: [fakeai-final]\n"
                        f"target: {{base_url: 'http://alice:{PASSWORD}@127.0.0.1:{port}/v1'}}\n")
    return contract


def test_url_credentials_are_basic_auth_and_appear_in_no_output(reference, tmp_path):
    with RecordingProxy(reference.port) as proxy:
        reports = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "junit", "tap", "markdown", "terminal")}
        argv = ["run", "fakeai-final", "--base-url", f"http://alice:{PASSWORD}@127.0.0.1:{proxy.port}",
                "--no-color", "--verbose", *[f"--report={fmt}:{path}" for fmt, path in reports.items()]]
        result = run_cli(*argv)
        assert result.code == 0, (result.out + result.err)[-3000:]
        basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
        assert f"Authorization: Basic {basic}".encode().lower() in bytes(proxy.sent).lower()
        assert b"Bearer" not in bytes(proxy.sent)
    outputs = [result.out, result.err] + [p.read_text() for p in reports.values()]
    for text in outputs:
        assert PASSWORD not in text and basic not in text
    assert json.loads(reports["json"].read_text())["target"] == f"http://127.0.0.1:{proxy.port}"

    contract = _credential_contract(tmp_path, proxy.port)
    for command in (["explain", str(contract)], ["lint", str(contract)]):
        shown = run_cli(*command)
        assert shown.code == 0, shown.err
        assert PASSWORD not in shown.out + shown.err
    bad = run_cli("run", "--base-url", f"http://alice:{PASSWORD}@127.0.0.1:1/?q")
    assert bad.code == 2 and PASSWORD not in bad.out + bad.err


def test_url_credentials_with_an_api_key_header_are_exit_2(tmp_path, monkeypatch, listener):
    monkeypatch.setenv("FAKEAI_API_KEY", "sk-live-key-123")
    result = run_cli("run", "--base-url", f"http://alice:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}")
    assert result.code == 2 and "Authorization header" in result.err
    assert PASSWORD not in result.err and "sk-live-key-123" not in result.err
    assert not _connected(listener)


# --- TLS ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_target(reference, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_cert(folder)
    with RecordingProxy(reference.port, ssl_context=server_context(cert, key)) as proxy:
        yield f"https://127.0.0.1:{proxy.port}", cert


def test_tls_verifies_the_certificate_by_default(tls_target):
    url, _ = tls_target
    result = run_cli("run", "--base-url", url, "--set", "SERVER_TIMEOUT=1", "--no-color", "-q", "--report", "json:-")
    assert result.code == 1
    assert "certificate" in result.ledger["entries"][0]["message"].lower()


def test_insecure_skips_verification(tls_target):
    url, _ = tls_target
    result = run_cli("run", "--base-url", url + "/v1", "--insecure", "--set", "SERVER_TIMEOUT=10", "--no-color", "-q")
    assert result.code == 0, result.out[-2000:]


def test_tls_ca_file_trusts_the_servers_certificate(tls_target, tmp_path):
    url, cert = tls_target
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(cert.read_bytes())
    contract = tmp_path / "tls.yaml"
    contract.write_text("contract: tls\nversion: 1\nextends: [fakeai-final]\n"
                        f"target: {{base_url: '{url}', tls: {{ca_file: certs/ca.pem}}}}\n")
    result = run_cli("run", str(contract), "--set", "SERVER_TIMEOUT=10", "--no-color", "-q")
    assert result.code == 0, result.out[-2000:]
    contract.write_text(contract.read_text().replace("tls: {ca_file: certs/ca.pem}", "tls: {verify: false}"))
    assert run_cli("run", str(contract), "--set", "SERVER_TIMEOUT=10", "--no-color", "-q").code == 0
    contract.write_text(contract.read_text().replace("tls: {verify: false}", "tls: {ca_file: certs/none.pem}"))
    missing = run_cli("run", str(contract), "--no-color", "-q")
    assert missing.code == 2 and "ca_file" in missing.err, missing.err
