"""Per-entry path, method and headers; load.order; text completions and embeddings traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeai_contract.reference import ReferenceOptions, ReferenceServer
from tests.helpers import run_cli
from tests.misbehaving_server import MisbehavingServer

APIS = str(Path(__file__).parent / "data" / "contracts" / "load" / "apis.yaml")
TTFT = 0.02          # the reference's first token comes this long after the (empty) first chunk
SEQUENTIAL = ["chat"] * 2 + ["text"] * 2 + ["text-stream"] * 3 + ["embed"] * 3

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def reference():
    with ReferenceServer(ReferenceOptions(latency=0.001, ttft=TTFT, itl=0.001)) as srv:
        yield srv


def _run(url: str, *sets: str, extra: tuple[str, ...] = ()):
    args = [a for s in sets for a in ("--set", s)]
    r = run_cli("run", APIS, "--base-url", url, "--report", "json:-", "--no-color", *args, *extra)
    assert "Traceback" not in r.out + r.err, r.err[-2000:]
    return r


def _entries(r) -> dict[str, dict]:
    return {e["id"]: e for e in r.ledger["entries"]}


def _order(r) -> list[str]:
    """The mix entry of each request, in the order the plan sent them."""
    requests = [e for e in r.ledger["entries"] if "request" in e["tags"]]
    return [e["id"].split("/")[1] for e in sorted(requests, key=lambda e: e["observed"]["index"])]


def _failed(r) -> dict[str, str]:
    return {e["id"]: e["message"] for e in r.ledger["entries"] if e["status"] in ("fail", "error")}


def test_chat_completions_and_embeddings_in_one_load_pass(reference):
    r = _run(reference.base_url)
    assert r.code == 0, _failed(r)
    client, entries = r.ledger["client"], _entries(r)
    assert client["requests"] == {"total": 10, "succeeded": 10, "failed": 0, "streaming": 3, "non_streaming": 7}
    by_path = client["by_path"]
    assert {p: v["kind"] for p, v in by_path.items()} == {
        "/v1/chat/completions": "chat", "/v1/completions": "completions", "/v1/embeddings": "embeddings"}
    text = by_path["/v1/completions"]
    assert text["requests"]["total"] == 5 and text["streams"]["completed"] == 3 and text["streams"]["done_markers"] == 3
    # TTFT is the first non-empty text, not the empty chunk the stream opens with
    assert text["ttft_s"]["p50"] >= TTFT and text["itl_s"]["p50"] is not None
    embed = by_path["/v1/embeddings"]
    assert embed["requests"]["non_streaming"] == 3 and embed["streams"]["total"] == 0
    assert embed["tokens"] == {"prompt": 12, "completion": 0, "total": 12, "reported_by": 3}   # "first text N" + "second"
    assert embed["ttft_s"]["p50"] is None
    assert client["tokens"]["prompt"] == sum(v["tokens"]["prompt"] for v in by_path.values())
    for name, checked in (("text", 2), ("text-stream", 3), ("embed", 3), ("chat", 2)):
        assert entries[f"schema/responses/{name}"]["status"] == "pass"
        assert entries[f"check/responses/{name}/model"]["observed"]["checked"] == checked
    assert entries["check/responses/embed/usage"]["observed"] == {"checked": 3, "bad": 0, "first_problems": []}
    first = entries["load/text/1"]
    assert first["name"] == "gpt-4 completions non-streaming #1"
    assert first["observed"]["path"] == "/v1/completions" and first["observed"]["method"] == "POST"


def test_interleave_spreads_the_entries_and_sequential_keeps_them_together(reference):
    interleaved = _order(_run(reference.base_url, "CONCURRENCY=3"))
    # entry i's j-th request at (j + 1/2) / count_i of the run, ties in mix order
    assert interleaved == ["text-stream", "embed", "chat", "text", "text-stream", "embed",
                           "chat", "text", "text-stream", "embed"]
    assert _order(_run(reference.base_url, "ORDER=sequential")) == SEQUENTIAL


def test_shuffle_is_reproducible_with_its_seed(reference):
    a = _order(_run(reference.base_url, "ORDER=shuffle", "SEED=7"))
    again = _order(_run(reference.base_url, "ORDER=shuffle", "SEED=7", "CONCURRENCY=4"))
    other = _order(_run(reference.base_url, "ORDER=shuffle", "SEED=8"))
    assert a == again
    assert sorted(a) == sorted(SEQUENTIAL)
    assert a != SEQUENTIAL and other != a


def test_workers_send_one_shuffled_order(reference):
    """Each worker's share has a seed of its own; the order is still the whole plan's."""
    one = _run(reference.base_url, "ORDER=shuffle", "SEED=7")
    two = _run(reference.base_url, "ORDER=shuffle", "SEED=7", extra=("--workers", "2"))
    assert two.code == 0, _failed(two)
    assert _order(two) == _order(one)
    assert sorted(e["id"] for e in two.ledger["entries"] if "request" in e["tags"]) == \
        sorted(e["id"] for e in one.ledger["entries"] if "request" in e["tags"])


def test_entry_headers_merge_over_the_target_headers_and_are_redacted():
    with MisbehavingServer("ok") as server:
        r = _run(server.url, "ORDER=sequential", extra=("--verbose",))
        seen = list(zip(server.seen_paths, server.seen_headers))
    assert r.code == 0, _failed(r)
    by_path: dict[str, list[dict]] = {}
    for path, headers in seen:
        by_path.setdefault(path, []).append(headers)
    chat, text, embed = by_path["POST /v1/chat/completions"], by_path["POST /v1/completions"], by_path["POST /v1/embeddings"]
    assert all(h["authorization"] == "Bearer sk-target-key" and "x-scenario" not in h for h in chat)
    # the two requests of the entry with the header, then the three of the entry without
    assert [h.get("x-scenario") for h in text] == ["text-sk-scenario-secret"] * 2 + [None] * 3
    assert all(h["authorization"] == "Bearer sk-target-key" for h in text)
    assert [h["authorization"] for h in embed] == ["Bearer sk-embed-entry-key"] * 3     # replaced, not doubled
    explained = run_cli("explain", APIS)
    assert "header X-Scenario" in explained.out
    for secret in ("sk-scenario-secret", "sk-embed-entry-key", "sk-target-key"):
        assert secret not in r.out + r.err and secret not in explained.out


# Completions and embeddings that break their shape: tests/e2e/misbehaving-{text,embed}-bad-shape and
# misbehaving-wrong-model-apis.
