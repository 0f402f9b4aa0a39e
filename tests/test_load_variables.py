"""Properties of ${NAME} interpolation, and its pure helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeai_contract.contract.variables import (Ref, VariableSyntaxError, interpolate, parse, references, typed)

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
TEXT_NO_DOLLAR = st.text(alphabet=st.characters(blacklist_characters="$", blacklist_categories=("Cs",)),
                         max_size=40)
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


def lookup_in(mapping):
    return mapping.get


@given(TEXT_NO_DOLLAR)
def test_text_without_dollar_is_unchanged(text):
    assert interpolate(text, lookup_in({})) == text


@given(TEXT_NO_DOLLAR, NAMES, TEXT_NO_DOLLAR)
def test_double_dollar_brace_is_a_literal(before, name, after):
    text = f"{before}$${{{name}}}{after}"
    assert interpolate(text, lookup_in({})) == f"{before}${{{name}}}{after}"
    assert references(text) == set()


@given(NAMES, VALUES, st.one_of(st.none(), VALUES), TEXT_NO_DOLLAR)
def test_default_applies_iff_unset_or_empty(name, default, value, prefix):
    default = default.replace("$", "").replace("}", "")
    env = {} if value is None else {name: value}
    result = interpolate(f"{prefix}${{{name}:-{default}}}", lookup_in(env))
    expected = default if value in (None, "") else value
    assert result == prefix + expected


@given(NAMES, VALUES)
def test_a_value_containing_dollar_braces_is_not_interpolated_again(name, value):
    assert interpolate(f"${{{name}}}", lookup_in({name: value + "${X}"})) == value + "${X}"


@given(NAMES)
def test_undefined_without_default_is_a_key_error(name):
    with pytest.raises(KeyError):
        interpolate(f"a ${{{name}}} b", lookup_in({}))


@given(st.lists(st.tuples(TEXT_NO_DOLLAR, NAMES), max_size=5), TEXT_NO_DOLLAR)
def test_substitution_is_concatenation(pieces, tail):
    text = "".join(f"{lit}${{{name}}}" for lit, name in pieces) + tail
    env = {name: f"<{name}>" for _, name in pieces}
    assert interpolate(text, lookup_in(env)) == "".join(f"{lit}<{name}>" for lit, name in pieces) + tail
    assert references(text) == {name for _, name in pieces}


@settings(max_examples=200)
@given(st.text(alphabet="${}:-ab_ \\", max_size=30))
def test_parse_never_fails_other_than_with_syntax_errors(text):
    try:
        parse(text)
    except VariableSyntaxError:
        pass


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_integers_are_typed(n):
    assert typed(str(n)) == n and type(typed(str(n))) is int


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))
def test_floats_are_typed(x):
    assert typed(repr(x)) == pytest.approx(x)


@pytest.mark.parametrize("text, value", [
    ("true", True), ("False", False), ("null", None), ("~", None), ("15", 15), ("0.5", 0.5), ("1e-05", 1e-05),
    ("on", "on"), ("no", "no"), ("yes", "yes"), ("", ""), ("1.2.3", "1.2.3"), ("127.0.0.1", "127.0.0.1"),
    ("0x1F", 31), ("0o17", 15), ("08080", 8080), ("[1, 2]", "[1, 2]"), ("a: b", "a: b"), ("9" * 5000, "9" * 5000),
])
def test_typed_follows_the_yaml_core_schema(text, value):
    assert typed(text) == value and type(typed(text)) is type(value)


def test_nested_default_parses_to_a_tree():
    assert parse("x${A:-${B:-c}}y") == ("x", Ref("A", (Ref("B", ("c",)),)), "y")


@pytest.mark.parametrize("text, fragment", [
    ("${", "variable name"), ("${}", "variable name"), ("${1a}", "variable name"),
    ("${a b}", "unexpected text"), ("${a:-x", "unclosed"), ("${a-x}", "unexpected text"),
])
def test_malformed_references(text, fragment):
    with pytest.raises(VariableSyntaxError, match=fragment):
        parse(text)
