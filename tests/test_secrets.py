"""Secrets in a contract (header values, *_TOKEN / *_KEY variables) never reach any output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

HERE = Path(__file__).parent / "data" / "contracts" / "hardening"
SECRETS = str(HERE / "secrets.yaml")
LEAKY = str(HERE / "secrets_leaky_check.yaml")
BAD_VALUE = str(HERE / "secret_in_bad_value.yaml")
API_KEY = "sk-hardening-9f8e7d6c5b4a"
DEFAULT_TOKEN = "s3cr3t-default-token"       # the contract's own default for ${MY_TOKEN}
ENV_TOKEN = "s3cr3t-from-the-environment-77"
FORMATS = ("json", "junit", "tap", "markdown")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("FAKEAI_API_KEY", "MY_TOKEN", "FAKEAI_BASE_URL", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def _assert_hidden(texts: dict[str, str], *secrets: str) -> None:
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {where}"


def _reports(tmp_path: Path) -> tuple[list[str], dict[str, Path]]:
    paths = {fmt: tmp_path / f"report.{fmt}" for fmt in FORMATS}
    return [a for fmt, p in paths.items() for a in ("--report", f"{fmt}:{p}")], paths


def _outputs(result, paths: dict[str, Path]) -> dict[str, str]:
    texts = {"stdout": result.out, "stderr": result.err}
    texts.update({f"{fmt} report": p.read_text() for fmt, p in paths.items()})
    server_log = next(iter(paths.values())).parent / "server.log"
    if server_log.exists():
        texts["server log"] = server_log.read_text(errors="replace")
    return texts


def _entry(doc: dict, entry_id: str) -> dict:
    return next(e for e in doc["entries"] if e["id"] == entry_id)


@pytest.mark.timeout(90)
def test_secret_given_with_set_reaches_no_report(tmp_path):
    args, paths = _reports(tmp_path)
    result = run_cli("run", SECRETS, "--serve-reference", "--set", f"FAKEAI_API_KEY={API_KEY}",
                     "--set", "SERVER_TIMEOUT=30", "--verbose", "--no-color", *args)
    assert result.code == 0, result.out[-3000:]
    _assert_hidden(_outputs(result, paths), API_KEY, DEFAULT_TOKEN)
    ledger = json.loads(paths["json"].read_text())
    token = _entry(ledger, "check/token-is-configured")
    assert token["status"] == "pass"
    assert token["observed"] == "***"           # the value was there, and masked
    assert "***" in result.out                    # the verbose terminal shows the masked value


@pytest.mark.timeout(90)
def test_secret_given_in_the_environment_reaches_no_output(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKEAI_API_KEY", API_KEY)
    monkeypatch.setenv("MY_TOKEN", ENV_TOKEN)
    args, paths = _reports(tmp_path)
    result = run_cli("run", SECRETS, "--serve-reference", "--set", "SERVER_TIMEOUT=30", "--verbose",
                     "--no-color", "--report", "json:-", *args)
    assert result.code == 0, result.err[-3000:]
    _assert_hidden(_outputs(result, paths), API_KEY, ENV_TOKEN)
    assert _entry(result.ledger, "check/token-is-configured")["observed"] == "***"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("via", ["set", "env"])
def test_explain_masks_secrets(monkeypatch, via):
    args = ["--set", f"FAKEAI_API_KEY={API_KEY}"] if via == "set" else []
    if via == "env":
        monkeypatch.setenv("FAKEAI_API_KEY", API_KEY)
        monkeypatch.setenv("MY_TOKEN", ENV_TOKEN)
    result = run_cli("explain", SECRETS, *args)
    assert result.code == 0, result.err
    _assert_hidden({"explain": result.out + result.err}, API_KEY, ENV_TOKEN, DEFAULT_TOKEN)
    assert "Authorization: ***" in result.out
    assert "my_token = ***" in result.out


@pytest.mark.timeout(60)
def test_header_reaches_the_server_but_not_the_output():
    with MisbehavingServer("ok") as server:
        result = run_cli("run", SECRETS, "--base-url", server.url, "--set", f"FAKEAI_API_KEY={API_KEY}",
                         "--verbose", "--no-color", "--report", "json:-")
    assert result.code == 0, result.err[-3000:]
    sent = {h.get("authorization") for h in server.seen_headers}
    assert sent == {f"Bearer {API_KEY}"}          # every request carried it, health and metrics too
    _assert_hidden({"stdout": result.out, "stderr": result.err}, API_KEY, DEFAULT_TOKEN)


@pytest.mark.timeout(60)
def test_failing_check_message_is_redacted(tmp_path):
    args, paths = _reports(tmp_path)
    with MisbehavingServer("ok") as server:
        result = run_cli("run", LEAKY, "--base-url", server.url, "--set", f"FAKEAI_API_KEY={API_KEY}",
                         "--verbose", "--no-color", *args)
    assert result.code == 1
    _assert_hidden(_outputs(result, paths), API_KEY, DEFAULT_TOKEN)
    entry = _entry(json.loads(paths["json"].read_text()), "check/token-is-the-other-one")
    assert entry["status"] == "fail"
    assert entry["observed"] == "***"
    assert entry["message"] == "vars.my_token = '***'; expected 'other'"
    assert "vars.my_token = '***'" in result.out


@pytest.mark.timeout(60)
def test_server_echoing_the_key_in_an_error_is_redacted():
    """A server that quotes the rejected key back in its 500 body: the finding keeps the key masked."""
    with MisbehavingServer("chat_500") as server:
        server.error_message = f"invalid api key: Bearer {API_KEY}"
        result = run_cli("run", SECRETS, "--base-url", server.url, "--set", f"FAKEAI_API_KEY={API_KEY}",
                         "--no-color", "--report", "json:-")
    assert result.code == 1
    entry = _entry(result.ledger, "load/non-streaming/1")
    assert entry["message"] == "HTTP 500: invalid api key: ***"
    _assert_hidden({"stdout": result.out, "stderr": result.err}, API_KEY)


@pytest.mark.timeout(30)
def test_contract_error_does_not_print_the_secret():
    result = run_cli("run", BAD_VALUE, "--set", f"FAKEAI_API_KEY={API_KEY}")
    assert result.code == 2
    assert "request_timeout" in result.err
    _assert_hidden({"stderr": result.err, "stdout": result.out}, API_KEY)


@pytest.mark.timeout(60)
def test_secret_with_quotes_and_backslashes_is_redacted_in_messages(monkeypatch):
    token = "s3cr3t\\with'quote\"s"
    monkeypatch.setenv("MY_TOKEN", token)
    with MisbehavingServer("ok") as server:
        result = run_cli("run", LEAKY, "--base-url", server.url, "--set", f"FAKEAI_API_KEY={API_KEY}",
                         "--no-color", "--report", "json:-")
    assert result.code == 1
    entry = _entry(result.ledger, "check/token-is-the-other-one")
    assert entry["observed"] == "***"
    assert "with" not in entry["message"], entry["message"]


@pytest.mark.timeout(60)
def test_redirect_to_another_origin_does_not_carry_the_key():
    with MisbehavingServer("ok") as elsewhere, MisbehavingServer("redirect_elsewhere") as server:
        server.redirect_to = elsewhere.url
        result = run_cli("run", SECRETS, "--base-url", server.url, "--set", f"FAKEAI_API_KEY={API_KEY}",
                         "--no-color", "--report", "json:-")
    assert elsewhere.seen_headers, "the redirect was not followed"
    assert all("authorization" not in h for h in elsewhere.seen_headers), elsewhere.seen_headers
    assert {h.get("authorization") for h in server.seen_headers} == {f"Bearer {API_KEY}"}
    _assert_hidden({"stdout": result.out, "stderr": result.err}, API_KEY)
