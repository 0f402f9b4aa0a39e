"""The shipped litellm pack against the real LiteLLM proxy from PyPI: it passes, and a broken proxy fails it."""

from __future__ import annotations

import importlib.util
import io
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from fakeai_contract.cli import main
from fakeai_contract.lifecycle import ServerProcess, free_port

from tests.helpers import poll

CONFIG = Path(__file__).resolve().parent / "data" / "packs" / "litellm-config.yaml"
KEY = "sk-contract-test"          # the master_key of litellm-config.yaml
#: No network beyond loopback: the bundled model cost map instead of GitHub's, no telemetry.
OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY_DISABLED": "true",
           "DISABLE_ADMIN_UI": "True"}

pytestmark = [pytest.mark.litellm, pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def litellm_command():
    """The proxy's command, or a skip saying why it cannot run here."""
    command = shutil.which("litellm")
    if command is None or importlib.util.find_spec("litellm") is None:
        pytest.skip("the LiteLLM proxy is not installed (pip install 'fakeai-contract[test]')")
    return command


#: Runs a command in a new network namespace whose only interface is loopback (no root needed).
LOOPBACK_ONLY = ["unshare", "--user", "--map-root-user", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]


def loopback_only_works() -> bool:
    """Whether this machine lets an unprivileged user make a loopback-only network namespace."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    return subprocess.run([*LOOPBACK_ONLY, "true"], capture_output=True, timeout=20).returncode == 0


def run_pack(tmp: Path, command: str, config: Path, *sets: str, offline: bool = False,
             base_url: str | None = None) -> tuple[int, dict]:
    """`fakeai-contract run litellm --serve "litellm --config CONFIG --port P"` (or against BASE_URL, a
    proxy already running): in-process, or with OFFLINE in a child process inside a loopback-only
    network namespace (the proxy with it)."""
    if base_url:
        target = ["--base-url", base_url]
    else:
        env = " ".join(f"{k}={v}" for k, v in OFFLINE.items())
        target = ["--serve", f"env {env} {shlex.quote(command)} --config {shlex.quote(str(config))} "
                             f"--host 127.0.0.1 --port {free_port()}"]
    tmp.mkdir(parents=True, exist_ok=True)
    ledger = tmp / "ledger.json"
    set_args = [a for s in (f"API_KEY={KEY}", "SERVER_TIMEOUT=150", *sets) for a in ("--set", s)]
    argv = ["run", "litellm", *target, *set_args, "--report", f"json:{ledger}", "--quiet", "--no-color"]
    if offline:
        child = subprocess.run([*LOOPBACK_ONLY, sys.executable, "-m", "fakeai_contract", *argv], cwd=tmp,
                               capture_output=True, text=True, timeout=200)
        code, errors = child.returncode, child.stderr
    else:
        err = io.StringIO()
        code, errors = main(argv, io.StringIO(), err), err.getvalue()
    assert ledger.exists(), errors
    return code, json.loads(ledger.read_text())


def statuses(ledger: dict) -> dict[str, str]:
    return {e["id"]: e["status"] for e in ledger["entries"]}


def test_the_litellm_pack_passes_on_the_real_proxy(litellm_command, tmp_path):
    """Where the machine allows it, with no network but loopback: the proxy needs none."""
    code, ledger = run_pack(tmp_path, litellm_command, CONFIG, offline=loopback_only_works())
    bad = {i: s for i, s in statuses(ledger).items() if s not in ("pass", "skip")}
    assert code == 0, bad
    client = ledger["client"]
    assert client["models"] == ["mock-gpt"]                     # found from /v1/models
    assert client["requests"]["succeeded"] == 16 and client["streams"]["done_markers"] == 12
    assert client["tokens"]["reported_by"] == 16


def test_a_proxy_whose_model_fails_fails_the_pack_and_so_does_a_wrong_master_key(litellm_command, tmp_path):
    """One proxy (its start costs seconds of CPU), its mock model raising an internal error: the
    client and the proxy's counters say so. Then the same proxy asked with a wrong key: without a
    database it answers 400 "No connected db.", and model discovery says so."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG.read_text().replace(
        'mock_response: "This is a mock reply from the LiteLLM proxy, written for contract tests"',
        'mock_response: "litellm.InternalServerError"').replace(
        'callbacks: ["prometheus"]', 'callbacks: ["prometheus"]\n  num_retries: 0'))     # fail at once
    assert "InternalServerError" in broken.read_text()
    port = free_port()
    proxy = ServerProcess([litellm_command, "--config", str(broken), "--host", "127.0.0.1", "--port", str(port)],
                          env=OFFLINE, log_path=tmp_path / "proxy.log")
    url = f"http://127.0.0.1:{port}"
    with proxy:
        poll(lambda: ready(url), 150, interval=0.25, what="the LiteLLM proxy to be ready",
             stop=lambda: None if proxy.is_running else f"the proxy exited: {proxy.tail()}")
        code, ledger = run_pack(tmp_path / "broken", litellm_command, broken, "METRICS_TIMEOUT=0.5", base_url=url)
        s = statuses(ledger)
        assert code == 1
        for check in ("no-request-failed", "every-stream-ended-with-data-done", "no-failure-counted-on-the-chat-route",
                      "input-tokens-equal-usage", "one-latency-observation-per-request"):
            assert s[f"check/{check}"] == "fail", (check, s[f"check/{check}"])
        assert s["health"] == s["load/models"] == "pass"

        code, ledger = run_pack(tmp_path / "wrong-key", litellm_command, broken, "API_KEY=sk-wrong", base_url=url)
        entries = {e["id"]: e for e in ledger["entries"]}
        assert code == 1
        assert entries["health"]["status"] == "pass"                  # /health/readiness needs no key
        assert entries["load/models"]["status"] == "fail"
        assert "400" in entries["load/models"]["message"], entries["load/models"]["message"]


def ready(url: str) -> bool:
    try:
        return requests.get(url + "/health/readiness", timeout=2).status_code == 200
    except requests.RequestException:
        return False
