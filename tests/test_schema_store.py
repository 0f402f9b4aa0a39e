"""The schema store: lookup order, $ref confinement, error lists; and the shipped endpoint schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fakeai_contract import resources
from fakeai_contract.checks.schema import MAX_ERRORS, SchemaStore, describe_errors, iter_errors, validate_schema_file
from fakeai_contract.errors import ContractError

SHIPPED = resources.schemas_dir()


def write_json(folder: Path, name: str, doc) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def folders(tmp_path):
    own, outside = tmp_path / "contract", tmp_path / "outside"
    own.mkdir()
    outside.mkdir()
    write_json(outside, "secret.json", {"type": "string"})
    return own, outside


# --- lookup ---------------------------------------------------------------------------------------

def test_contract_folder_shadows_shipped_schemas(folders):
    own, _ = folders
    write_json(own, "health.schema.json", {"type": "string"})
    store = SchemaStore([own, SHIPPED])
    assert store.find("health.schema.json") == (own / "health.schema.json").resolve()
    assert iter_errors(store.validator("health.schema.json"), "text") == []
    assert SchemaStore([SHIPPED]).find("health.schema.json") == (SHIPPED / "health.schema.json").resolve()


def test_validator_is_cached(folders):
    own, _ = folders
    write_json(own, "a.json", {"type": "object"})
    store = SchemaStore([own])
    assert store.validator("a.json") is store.validator("a.json")


def test_missing_schema_lists_the_folders(folders):
    own, _ = folders
    with pytest.raises(ContractError, match="not found") as info:
        SchemaStore([own, SHIPPED]).validator("nope.json")
    assert str(own) in info.value.message


@pytest.mark.parametrize("name", ["../outside/secret.json", "/etc/hostname", "https://example.com/x.json"])
def test_schema_names_cannot_leave_the_folders(folders, name):
    own, _ = folders
    with pytest.raises(ContractError):
        SchemaStore([own]).validator(name)


def test_yaml_schema_files_are_read_safely(folders):
    own, _ = folders
    (own / "s.yaml").write_text("type: object\nrequired: [a]\n", encoding="utf-8")
    (own / "evil.yaml").write_text("!!python/object/apply:os.system ['true']\n", encoding="utf-8")
    store = SchemaStore([own])
    assert iter_errors(store.validator("s.yaml"), {}) == [{"path": "$", "message": "'a' is a required property"}]
    with pytest.raises(ContractError):
        store.validator("evil.yaml")


def test_oversized_schema_is_refused(folders):
    own, _ = folders
    (own / "big.json").write_text('{"description": "' + "x" * (1024 * 1024) + '"}', encoding="utf-8")
    with pytest.raises(ContractError, match="larger than"):
        SchemaStore([own]).validator("big.json")


def test_invalid_json_schema_is_a_contract_error(folders):
    own, _ = folders
    write_json(own, "bad.json", {"type": 12})
    with pytest.raises(ContractError, match="bad.json is not a valid JSON Schema"):
        validate_schema_file("bad.json", [own])
    write_json(own, "list.json", [1, 2])
    with pytest.raises(ContractError, match="top level must be an object"):
        validate_schema_file("list.json", [own])


# --- $ref -----------------------------------------------------------------------------------------

def test_relative_refs_resolve_beside_the_schema(folders):
    own, _ = folders
    write_json(own, "defs/common.json", {"$defs": {"count": {"type": "integer", "minimum": 0}}})
    write_json(own, "defs/user.json", {"type": "object", "properties": {"n": {"$ref": "common.json#/$defs/count"}}})
    write_json(own, "top.json", {"type": "object", "properties": {"user": {"$ref": "defs/user.json"},
                                                                  "local": {"$ref": "#/$defs/s"}},
                                 "$defs": {"s": {"type": "string"}}})
    validator = SchemaStore([own]).validator("top.json")
    assert iter_errors(validator, {"user": {"n": 3}, "local": "x"}) == []
    errors = iter_errors(validator, {"user": {"n": -1}, "local": 5})
    assert [e["path"] for e in errors] == ["$.local", "$.user.n"]
    assert validate_schema_file("top.json", [own]) == (own / "top.json").resolve()


@pytest.mark.parametrize("ref, fragment", [
    ("https://example.com/schema.json", "may not load URLs"),
    ("http://127.0.0.1:1/schema.json", "may not load URLs"),
    ("../outside/secret.json", "outside the allowed folders"),
    ("missing.json", "does not exist"),
    ("#/$defs/nothing", "points to nothing"),
])
def test_refs_that_leave_the_folders_are_refused_before_any_validation(folders, ref, fragment):
    own, _ = folders
    write_json(own, "s.json", {"type": "object", "properties": {"a": {"$ref": ref}}})
    with pytest.raises(ContractError) as info:
        SchemaStore([own]).validator("s.json")
    assert fragment in info.value.message and "s.json" in info.value.message and ref in info.value.message


def test_file_url_ref_outside_is_refused(folders):
    own, outside = folders
    write_json(own, "s.json", {"$ref": (outside / "secret.json").as_uri()})
    with pytest.raises(ContractError, match="outside the allowed folders"):
        SchemaStore([own]).validator("s.json")


def test_ref_through_a_symlink_that_points_outside_is_refused(folders):
    own, outside = folders
    os.symlink(outside / "secret.json", own / "link.json")
    write_json(own, "s.json", {"$ref": "link.json"})
    with pytest.raises(ContractError, match="outside the allowed folders"):
        SchemaStore([own]).validator("s.json")
    with pytest.raises(ContractError, match="outside the allowed folders"):
        SchemaStore([own]).validator("link.json")


def test_ref_chain_is_followed_to_the_end(folders):
    own, _ = folders
    write_json(own, "a.json", {"$ref": "b.json"})
    write_json(own, "b.json", {"$ref": "https://example.com/c.json"})
    with pytest.raises(ContractError, match="may not load URLs"):
        SchemaStore([own]).validator("a.json")


def test_ref_through_an_https_id_is_refused(folders):
    own, _ = folders
    write_json(own, "s.json", {"$id": "https://example.com/s.json", "$ref": "other.json"})
    with pytest.raises(ContractError, match="may not load URLs"):
        SchemaStore([own]).validator("s.json")


def test_ref_keyword_inside_data_is_not_followed(folders):
    own, _ = folders
    write_json(own, "s.json", {"const": {"$ref": "https://example.com/x"},
                               "properties": {"$ref": {"type": "string"}}})
    validator = SchemaStore([own]).validator("s.json")
    assert iter_errors(validator, {"$ref": "https://example.com/x"}) == []


# --- iter_errors ----------------------------------------------------------------------------------

def test_iter_errors_is_capped_and_ordered(folders):
    own, _ = folders
    write_json(own, "s.json", {"type": "object", "additionalProperties": {"type": "integer"}})
    validator = SchemaStore([own]).validator("s.json")
    errors = iter_errors(validator, {f"k{i:02}": "x" for i in range(50)})
    assert len(errors) == MAX_ERRORS
    assert errors[0] == {"path": "$.k00", "message": "'x' is not of type 'integer'"}
    assert [e["path"] for e in errors] == sorted(e["path"] for e in errors)


def test_iter_errors_clips_huge_messages(folders):
    own, _ = folders
    write_json(own, "s.json", {"type": "integer"})
    errors = iter_errors(SchemaStore([own]).validator("s.json"), "x" * 100_000)
    assert len(errors[0]["message"]) <= 300


def test_cheap_formats_are_checked(folders):
    own, _ = folders
    write_json(own, "s.json", {"properties": {"d": {"format": "date"}, "ip": {"format": "ipv4"}}})
    validator = SchemaStore([own]).validator("s.json")
    assert iter_errors(validator, {"d": "2024-01-31", "ip": "10.0.0.1"}) == []
    assert {e["path"] for e in iter_errors(validator, {"d": "yesterday", "ip": "999.1.1.1"})} == {"$.d", "$.ip"}


# --- the shipped endpoint schemas -----------------------------------------------------------------

COMPLETION = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4",
              "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}, "system_fingerprint": "fp"}
CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4",
         "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
TEXT = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "m",
        "choices": [{"text": "Hi", "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
TEXT_CHUNK = {**TEXT, "choices": [{"text": "Hi", "index": 0, "logprobs": None, "finish_reason": None}]}
EMBEDDINGS = {"object": "list", "model": "m", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -2, 0]}],
              "usage": {"prompt_tokens": 3, "total_tokens": 3}}
GOOD = {
    "health.schema.json": {"status": "healthy", "ready": True},
    "completion.schema.json": TEXT,
    "completion_chunk.schema.json": {k: v for k, v in TEXT_CHUNK.items() if k != "usage"},
    "embeddings.schema.json": EMBEDDINGS,
    "chat_completion.schema.json": COMPLETION,
    "chat_completion_chunk.schema.json": CHUNK,
    "metrics.schema.json": {"total_requests": 20, "requests_per_second": 5.85, "avg_response_time": 0.171},
    "metrics_events.schema.json": {"events_published": 40, "events_processed": 40, "queue_depth": 0},
    "metrics_errors.schema.json": {"total_requests": 20, "total_errors": 0, "error_rate": 0.0},
    "metrics_streaming.schema.json": {"total_streams": 10, "successful_streams": 10, "failed_streams": 0,
                                      "ttft_percentiles": {"p50": 0.01, "p90": 0.02, "p99": 0.03}},
    "metrics_slo.schema.json": {"success_rate": 1.0, "error_budget_remaining": 1.0, "slo_target": 0.99},
}
ALSO_GOOD = [
    ("chat_completion.schema.json", {**COMPLETION, "choices": [{"index": 0, "finish_reason": "tool_calls",
                                                                "message": {"role": "assistant", "content": None}}]}),
    ("chat_completion_chunk.schema.json", {**CHUNK, "choices": [], "usage": COMPLETION["usage"]}),
    ("completion_chunk.schema.json", {**TEXT_CHUNK, "usage": None}),
    ("completion_chunk.schema.json", {**TEXT_CHUNK, "choices": []}),
    ("metrics.schema.json", {"total_requests": 0, "requests_per_second": 0, "avg_response_time": None}),
    ("metrics_streaming.schema.json", {**GOOD["metrics_streaming.schema.json"], "ttft_percentiles": None}),
]
BAD = [
    ("health.schema.json", {"status": "healthy"}, "$"),
    ("health.schema.json", {"status": "healthy", "ready": "yes"}, "$.ready"),
    ("chat_completion.schema.json", {**COMPLETION, "object": "chat.completion.chunk"}, "$.object"),
    ("chat_completion.schema.json", {**COMPLETION, "usage": {"prompt_tokens": -1, "completion_tokens": 1,
                                                              "total_tokens": 0}}, "$.usage"),
    ("chat_completion.schema.json", {k: v for k, v in COMPLETION.items() if k != "choices"}, "$"),
    ("chat_completion_chunk.schema.json", {**CHUNK, "choices": [{"index": 0, "delta": {}}]}, "$.choices[0]"),
    ("completion.schema.json", {**TEXT, "object": "chat.completion"}, "$.object"),
    ("completion.schema.json", {**TEXT, "choices": [{"index": 0, "logprobs": None, "finish_reason": "stop"}]}, "$.choices[0]"),
    ("completion.schema.json", {**TEXT, "choices": [{**TEXT["choices"][0], "finish_reason": None}]},
     "$.choices[0].finish_reason"),
    ("completion.schema.json", {**TEXT, "usage": None}, "$.usage"),
    ("completion_chunk.schema.json", {**TEXT_CHUNK, "choices": [{"index": 0, "text": 5, "logprobs": None,
                                                                 "finish_reason": None}]}, "$.choices[0].text"),
    ("completion_chunk.schema.json", {**TEXT_CHUNK, "object": "chat.completion.chunk"}, "$.object"),
    ("embeddings.schema.json", {**EMBEDDINGS, "data": [{"object": "embedding", "index": 0, "embedding": "AAAA"}]},
     "$.data[0].embedding"),
    ("embeddings.schema.json", {**EMBEDDINGS, "data": []}, "$.data"),
    ("embeddings.schema.json", {**EMBEDDINGS, "usage": {"total_tokens": 3}}, "$.usage"),
    ("metrics.schema.json", {"total_requests": "20", "requests_per_second": 1, "avg_response_time": 1}, "$.total_requests"),
    ("metrics_events.schema.json", {"events_published": 1, "events_processed": 1, "queue_depth": -1}, "$.queue_depth"),
    ("metrics_errors.schema.json", {"total_requests": 1, "total_errors": 0, "error_rate": 1.5}, "$.error_rate"),
    ("metrics_streaming.schema.json", {**GOOD["metrics_streaming.schema.json"], "ttft_percentiles": {"p50": 1}}, "$.ttft_percentiles"),
    ("metrics_slo.schema.json", {"success_rate": 1.0, "error_budget_remaining": 1.0}, "$"),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_shipped_schema_accepts_a_seed_document(name):
    assert iter_errors(SchemaStore([SHIPPED]).validator(name), GOOD[name]) == []


@pytest.mark.parametrize("name, document", ALSO_GOOD)
def test_shipped_schema_accepts_variants(name, document):
    assert iter_errors(SchemaStore([SHIPPED]).validator(name), document) == []


@pytest.mark.parametrize("name, document, path", BAD)
def test_shipped_schema_rejects(name, document, path):
    errors = iter_errors(SchemaStore([SHIPPED]).validator(name), document)
    assert errors and errors[0]["path"] == path


def test_every_shipped_schema_is_valid_and_has_a_title():
    for path in SHIPPED.glob("*.json"):
        doc = json.loads(path.read_text(encoding="utf-8"))
        validate_schema_file(path.name, [SHIPPED])
        assert doc.get("title") and doc.get("description"), path.name


def test_the_first_schema_errors_read_as_path_and_message():
    validator = SchemaStore((SHIPPED,)).validator("health.schema.json")
    errors = iter_errors(validator, {"status": 3})
    assert describe_errors(errors) == f"{errors[0]['path']}: {errors[0]['message']}"
    assert describe_errors([{"path": "$.a", "message": "x"}, {"path": "$.b", "message": "y"}], 3) == "$.a: x; $.b: y"
    assert describe_errors([]) is None
