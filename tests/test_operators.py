"""The operator table is the one source of operator facts: the schema, validation, the builder,
explain and the evaluator all follow it, so adding an operator is one entry (plus its schema property)."""

from __future__ import annotations

import copy

import pytest

from fakeai_contract.checks import operators
from fakeai_contract.checks.jsontypes import JSON_TYPES
from fakeai_contract.checks.operators import OPERATORS, Judgement, Operand, Operator, show
from fakeai_contract.checks.rules import evaluate, expressions
from fakeai_contract.contract import load_contract, validate
from fakeai_contract.errors import ContractError, ContractErrors
from fakeai_contract.explain import explain
from fakeai_contract.ledger import Status

#: The keys of a check that are not operators.
CHECK_KEYS = {"name", "description", "that", "tolerance", "severity", "tags", "eventually", "remove"}
HEAD = "contract: t\nversion: 1\ntarget:\n  base_url: http://127.0.0.1:1\nendpoints: {m: {path: /m}}\nchecks:\n"


def _check_properties(schema: dict) -> dict:
    return schema["properties"]["checks"]["items"]["properties"]


def test_the_schema_offers_exactly_the_registered_operators():
    props = _check_properties(validate.contract_schema())
    assert set(props) - CHECK_KEYS == set(OPERATORS)
    description = validate.contract_schema()["properties"]["checks"]["items"]["description"]
    assert f"({' '.join(OPERATORS)})" in description


def test_the_schema_says_where_tolerance_applies():
    text = _check_properties(validate.contract_schema())["tolerance"]["description"]
    tolerant = [op.name for op in OPERATORS.values() if op.tolerant]
    assert f"for {'/'.join(tolerant)}:" in text


def test_the_type_operator_names_exactly_the_json_types():
    type_schema = _check_properties(validate.contract_schema())["type"]["anyOf"][0]
    assert set(type_schema["enum"]) == set(JSON_TYPES)


def test_every_operator_has_explain_words_and_a_judge():
    for op in OPERATORS.values():
        assert op.words and callable(op.judge) and isinstance(op.operand, Operand)


@pytest.mark.parametrize("name,operand,texts", [
    ("equals", "errors.total", ["errors.total"]), ("equals", 3, []),
    ("between", [0, "errors.total"], ["errors.total"]), ("matches", "^x", []), ("type", "number", []),
])
def test_operand_expressions_follow_the_operand_kind(name, operand, texts):
    assert [t for _, t in operators.operand_expressions(name, operand)] == texts


# --- adding an operator: one entry -----------------------------------------------------------------

def _not_equal(observed, expected, tolerance) -> Judgement:
    return Judgement(observed != expected, expected, f"!= {show(expected)}")


@pytest.fixture
def with_ne(monkeypatch):
    """A new operator `ne`: its table entry, and its property in the contract schema."""
    monkeypatch.setitem(OPERATORS, "ne", Operator("ne", "!=", Operand.EXPRESSION, tolerant=False,
                                                  null_fails=True, presence=False, judge=_not_equal))
    schema = copy.deepcopy(validate.contract_schema())
    _check_properties(schema)["ne"] = {"type": ["string", "number", "boolean", "null", "array", "object"]}
    monkeypatch.setattr(validate, "contract_schema", lambda: schema)
    validate._validator.cache_clear()
    yield
    validate._validator.cache_clear()


def test_a_new_operator_is_loaded_explained_and_evaluated(with_ne, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "  - {name: differs, that: m.a, ne: m.b}\n", encoding="utf-8")
    contract = load_contract(path, env={})
    check = contract.checks[0]
    assert (check.op, check.expected) == ("ne", "m.b")
    assert "[check/differs] differs: m.a != m.b" in explain(contract)
    assert expressions(check) == ["m.a", "m.b"]
    held = evaluate(check, {"m": {"a": 1, "b": 2}})
    assert held.status is Status.PASS and held.message == "m.a = 1; expected != 2"
    broken = evaluate(check, {"m": {"a": 2, "b": 2}})
    assert broken.status is Status.FAIL and broken.message == "m.a = 2; expected != 2"
    assert evaluate(check, {"m": {"a": None, "b": 2}}).message == "m.a is missing or null; expected ne m.b (= 2)"


def test_a_new_operator_is_validated_by_its_facts(with_ne, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(HEAD + "  - {name: d, that: m.a, ne: nope.b, tolerance: 1}\n", encoding="utf-8")
    with pytest.raises(ContractErrors) as caught:
        load_contract(path, env={})
    text = str(caught.value)
    assert "check 'd' (ne) reads 'nope'" in text           # its operand is an expression
    assert "tolerance does not apply to ne" in text          # it is not tolerant
    two = tmp_path / "two.yaml"
    two.write_text(HEAD + "  - {name: d, that: m.a, ne: 1, gt: 0}\n", encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        load_contract(two, env={})
    assert "has 2 operators (gt, ne)" in str(caught.value)
    assert "keep one of: " + ", ".join(OPERATORS) in str(caught.value)
