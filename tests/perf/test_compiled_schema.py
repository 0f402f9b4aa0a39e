"""The compiled is_valid agrees with jsonschema on every schema it accepts, and declines the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from jsonschema import Draft202012Validator

from fakeai_contract.checks.compiled import CompiledValidator, compile_check
from fakeai_contract.checks.schema import SchemaStore, iter_errors
from fakeai_contract.reference.options import ReferenceOptions
from fakeai_contract.reference.state import ReferenceState

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
#: The schemas the seed contract validates every response, chunk and metrics document with.
SEED_SCHEMAS = ["chat_completion.schema.json", "chat_completion_chunk.schema.json", "health.schema.json",
                "metrics.schema.json", "metrics_events.schema.json", "metrics_errors.schema.json",
                "metrics_streaming.schema.json", "metrics_slo.schema.json"]
ALL_SHIPPED = sorted(p.name for p in SCHEMAS.glob("*.schema.json"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 1.5, -2.5])
    | st.sampled_from(["", "a", "ab", "abc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=8)
type_names = st.sampled_from(["object", "array", "string", "boolean", "null", "number", "integer"])
small = st.integers(0, 3)


def _keywords(schemas):
    return st.fixed_dictionaries({}, optional={
        "type": type_names | st.lists(type_names, min_size=1, max_size=3, unique=True),
        "const": json_values,
        "enum": st.lists(json_values, min_size=1, max_size=3),
        "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True),
        "properties": st.dictionaries(st.sampled_from(["a", "b", "c"]), schemas, max_size=2),
        "additionalProperties": schemas,
        "items": schemas,
        "minLength": small, "maxLength": small, "minItems": small, "maxItems": small,
        "minProperties": small, "maxProperties": small,
        "minimum": st.integers(-2, 2), "maximum": st.integers(-2, 2),
        "exclusiveMinimum": st.sampled_from([-1, 0, 0.5]), "exclusiveMaximum": st.sampled_from([0, 1, 1.5]),
        "allOf": st.lists(schemas, min_size=1, max_size=2), "anyOf": st.lists(schemas, min_size=1, max_size=2),
        "oneOf": st.lists(schemas, min_size=1, max_size=2), "not": schemas,
        "title": st.just("annotation"),
    })


plain_schemas = st.recursive(st.booleans() | _keywords(st.just(True)), _keywords, max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(plain_schemas, json_values)
def test_compiled_check_agrees_with_jsonschema(schema, document):
    check = compile_check(schema)
    assert check is not None, schema
    assert check(document) == Draft202012Validator(schema).is_valid(document)


@pytest.mark.parametrize("schema", [
    {"$ref": "#/$defs/x", "$defs": {"x": {}}}, {"format": "date"}, {"pattern": "a"},
    {"properties": {"a": {"multipleOf": 2}}}, {"prefixItems": [{}]}, {"unevaluatedProperties": False},
])
def test_schemas_with_other_keywords_are_left_to_jsonschema(schema):
    assert compile_check(schema) is None


def _mutations(doc):
    """DOC and variants of it with one leaf replaced or one key removed, everywhere."""
    yield doc
    if isinstance(doc, dict):
        for key in doc:
            yield {k: v for k, v in doc.items() if k != key}
            for other in (None, "x", -1, 1.5, [], {}):
                yield {**doc, key: other}
            for variant in _mutations(doc[key]):
                yield {**doc, key: variant}
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            for variant in _mutations(item):
                yield doc[:i] + [variant] + doc[i + 1:]


def _sample(name):
    """A valid document for a shipped schema: what the reference server answers after some traffic."""
    state = ReferenceState(ReferenceOptions())
    bus = state.bus
    bus.publish("request.started", model="m", stream=True)
    bus.publish("stream.started", model="m")
    bus.publish("stream.first_token", model="m", ttft_s=0.01)
    bus.publish("stream.completed", model="m", chunks=3, itl=[0.002], duration_s=0.02)
    bus.publish("request.completed", model="m", stream=True, prompt_tokens=1, completion_tokens=1, duration_s=0.02)
    bus.publish("request.started", model="m", stream=False)
    bus.publish("request.failed", model="m", stream=False, status=500, error_type="server_error",
                message="boom", timestamp=1.0, duration_s=0.01)
    documents = {
        "health.schema.json": state.health(), "metrics.schema.json": state.metrics(),
        "metrics_events.schema.json": state.events(), "metrics_errors.schema.json": state.error_metrics(),
        "metrics_streaming.schema.json": state.streaming(), "metrics_slo.schema.json": state.slo(),
        "chat_completion.schema.json": {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
                                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                                     "finish_reason": "stop"}],
                                        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
        "chat_completion_chunk.schema.json": {"id": "c1", "object": "chat.completion.chunk", "created": 1,
                                              "model": "m", "choices": [{"index": 0, "delta": {"content": "a"},
                                                                         "finish_reason": None}]},
    }
    return json.loads(json.dumps(documents[name]))


@pytest.mark.parametrize("name", SEED_SCHEMAS)
def test_seed_schemas_compile_and_agree_on_mutated_documents(name):
    validator = SchemaStore([SCHEMAS]).validator(name)
    assert isinstance(validator, CompiledValidator)
    plain = validator.validator
    sample = _sample(name)
    assert plain.is_valid(sample)
    verdicts = set()
    for doc in _mutations(sample):
        verdict = plain.is_valid(doc)
        verdicts.add(verdict)
        assert validator.is_valid(doc) == verdict, json.dumps(doc)
    assert verdicts == {True, False}     # the mutations reach both answers


def test_errors_still_come_from_jsonschema():
    validator = SchemaStore([SCHEMAS]).validator("chat_completion.schema.json")
    errors = iter_errors(validator, {"object": "chat.completion"})
    assert not validator.is_valid({"object": "chat.completion"})
    assert {"path": "$", "message": "'id' is a required property"} in errors


@pytest.mark.parametrize("name", ALL_SHIPPED)
def test_every_shipped_schema_compiled_or_not_answers_as_jsonschema(name):
    store = SchemaStore([SCHEMAS])
    validator = store.validator(name)
    plain = getattr(validator, "validator", validator)
    if isinstance(validator, CompiledValidator):
        check = compile_check(json.loads((SCHEMAS / name).read_text()))
        assert check is not None

    @settings(max_examples=60, deadline=None)
    @given(json_values)
    def agree(document):
        assert validator.is_valid(document) == plain.is_valid(document)
    agree()
