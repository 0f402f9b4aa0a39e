"""`load.models: [auto]`: the served models discovered from /v1/models, or a clear failure and no traffic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fakeai_contract.contract import load_contract
from fakeai_contract.phases.models import served_ids
from fakeai_contract.plan import planned_models, with_served_models
from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

CONTRACT = str(Path(__file__).parent / "data" / "contracts" / "load" / "auto-models.yaml")
TRACEBACK = "Traceback (most recent call last)"
FLAVOR_MODEL = "meta-llama/Llama-3.1-8B-Instruct"       # what --flavor vllm serves

pytestmark = pytest.mark.timeout(60)


def _json(doc) -> tuple[int, str, bytes]:
    return 200, "application/json", json.dumps(doc).encode()


def _run(url: str, *extra: str):
    t0 = time.monotonic()
    r = run_cli("run", CONTRACT, "--base-url", url, "--report", "json:-", "--no-color", *extra)
    assert TRACEBACK not in r.out + r.err, r.err[-2000:]
    return r, time.monotonic() - t0


def _entries(r) -> dict[str, dict]:
    return {e["id"]: e for e in r.ledger["entries"]}


def test_auto_sends_to_the_model_the_reference_server_serves(cli):
    r = cli("run", CONTRACT, "--serve-reference", "--reference-arg=--flavor=vllm", "--report", "json:-", "--quiet")
    assert r.code == 0, [(e["id"], e["message"]) for e in r.ledger["entries"] if e["status"] != "pass"]
    ids = [e["id"] for e in r.ledger["entries"]]
    found = _entries(r)["load/models"]
    assert found["status"] == "pass" and found["phase"] == "load"
    assert found["observed"]["ids"] == [FLAVOR_MODEL]
    # discovered after the health wait, before any request
    assert ids.index("health") < ids.index("load/models") < min(i for i, x in enumerate(ids) if x.startswith("load/chat"))
    assert r.ledger["client"]["models"] == [FLAVOR_MODEL]
    assert set(r.ledger["client"]["by_model"]) == {FLAVOR_MODEL}


def test_discovery_resolves_against_the_api_root_with_the_target_headers():
    """A base URL ending in /v1: GET /v1/models on the server root, with the target's Authorization."""
    with MisbehavingServer("ok") as server:
        server.models_answer = _json({"object": "list", "data": [{"id": "gpt-4"}, {"id": "gpt-4"}, {"id": "m2"}]})
        r, _ = _run(server.url + "/v1")
        paths, headers = list(server.seen_paths), list(server.seen_headers)
        shown = run_cli("run", CONTRACT, "--base-url", server.url, "--no-color")
    # the discovery is the load's own entry, not a request
    assert "Executing Test Load (4 Requests)" in shown.out, shown.out
    entry = _entries(r)["load/models"]
    assert entry["status"] == "pass", entry
    assert entry["observed"]["ids"] == ["gpt-4", "m2"]           # in order, deduplicated
    i = paths.index("GET /v1/models")
    assert paths.count("GET /v1/models") == 1
    assert headers[i].get("authorization") == "Bearer sk-auto-models-key"
    assert r.ledger["client"]["models"] == ["gpt-4", "m2"]
    assert r.ledger["client"]["by_model"]["gpt-4"]["total"] == 2 and r.ledger["client"]["by_model"]["m2"]["total"] == 2
    assert r.code == 1                                            # two models: the contract's check says one
    assert _entries(r)["check/requests-went-to-one-model"]["status"] == "fail"


#: what /v1/models answers → what the failed load/models entry must say
BROKEN = {
    "404": (None, "HTTP 404: Not Found"),
    "html": ((200, "text/html", b"<html>models</html>"), "expected JSON, got text/html"),
    "not-a-list": (_json({"object": "list", "data": {"id": "gpt-4"}}), "no list at 'data'"),
    "empty": (_json({"object": "list", "data": []}), "lists no models (data is empty)"),
    "no-id": (_json({"data": [{"name": "gpt-4"}]}), "data[0] has no string 'id'"),
    "array": (_json([{"id": "gpt-4"}]), "not a JSON object"),
    "hang": ("hang", "within the deadline of 2s"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_failed_discovery_fails_its_entry_and_skips_the_traffic(case):
    answer, text = BROKEN[case]
    with MisbehavingServer("ok") as server:
        server.models_answer = answer
        r, elapsed = _run(server.url)
        paths = list(server.seen_paths)
    assert r.code == 1
    assert elapsed < 10
    entries = _entries(r)
    entry = entries["load/models"]
    assert entry["status"] == "fail" and text in entry["message"], entry
    assert entry["observed"]["path"] == "/v1/models"
    for mix in ("load/chat", "load/chat-stream", "check/no-request-failed"):
        assert entries[mix]["status"] == "skip"
        assert entries[mix]["message"].startswith("no models to send: GET /v1/models: "), entries[mix]
        assert text in entries[mix]["message"]
    assert not [p for p in paths if p.startswith("POST")]        # nothing was sent
    assert r.ledger["summary"]["verdict"] == "FAIL"


def test_set_model_skips_discovery():
    with MisbehavingServer("ok") as server:           # its /v1/models is 404: discovery would fail
        r, _ = _run(server.url, "--set", "MODEL=gpt-4")
        paths = list(server.seen_paths)
    assert r.code == 0, [(e["id"], e["message"]) for e in r.ledger["entries"] if e["status"] != "pass"]
    assert "load/models" not in _entries(r)
    assert "GET /v1/models" not in paths
    assert r.ledger["client"]["models"] == ["gpt-4"]


def test_auto_is_replaced_in_place_without_the_names_beside_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("""contract: c
target: {base_url: "http://127.0.0.1:1"}
load:
  models: [pinned, auto]
  mix:
    - {name: a, count: 4, body: {messages: []}}
    - {name: b, count: 1, models: [auto, extra], body: {messages: []}}
version: 1
""")
    contract = with_served_models(load_contract(path), ("x", "pinned", "y"))
    assert contract.load.models == ("pinned", "x", "y")
    assert contract.load.mix[0].models is None and contract.load.mix[1].models == ("x", "pinned", "y", "extra")
    assert planned_models(contract) == ["pinned", "x", "y"]       # entry b sends one request: to x


def test_served_ids_reads_data_ids_in_order():
    assert served_ids({"data": [{"id": "b"}, {"id": "a"}, {"id": "b"}]}) == (("b", "a"), None)
    assert served_ids({"data": [{"id": 3}]})[1].startswith("data[0] has no string 'id'")


def test_lint_and_explain_show_auto(cli):
    lint = cli("lint", CONTRACT)
    assert lint.code == 0 and "models: auto (discovered from /v1/models at run time)" in lint.out
    explain = cli("explain", CONTRACT).out
    assert "auto (discovered from /v1/models at run time)" in explain
    pinned = cli("explain", CONTRACT, "--set", "MODEL=gpt-4").out
    assert "discovered" not in pinned and "gpt-4" in pinned
