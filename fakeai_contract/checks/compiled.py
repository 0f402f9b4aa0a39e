"""A compiled is_valid for plain JSON Schemas: the load phase's fast path past jsonschema."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from jsonschema import Draft202012Validator

from fakeai_contract.checks.jsontypes import JSON_TYPES, is_number

# jsonschema walks the schema for every document (~100 us for a chat completion); the load phase
# validates every response and every stream chunk, so schemas that use only the keywords below
# are compiled once into nested closures. Anything else ($ref, format, pattern...) keeps jsonschema.
# Error messages always come from jsonschema: the closures only answer valid or not (and where
# they say invalid and jsonschema finds nothing, as for NaN, which JSON cannot carry, jsonschema wins).

Check = Callable[[Any], bool]
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "examples", "default",
                          "deprecated", "readOnly", "writeOnly", "$defs", "definitions"})


class _Unsupported(Exception):
    """The schema uses a keyword the compiled check does not implement."""


class CompiledValidator:
    """A jsonschema validator whose is_valid runs a compiled check; everything else is jsonschema's."""

    def __init__(self, validator: Draft202012Validator, check: Check):
        self.validator = validator
        self.is_valid = check

    def iter_errors(self, instance: Any):
        return self.validator.iter_errors(instance)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.validator, name)


def compile_check(schema: Any) -> Check | None:
    """A function telling whether a document is valid against SCHEMA, or None if SCHEMA needs jsonschema."""
    try:
        return _compile(schema)
    except (_Unsupported, RecursionError, TypeError, KeyError):
        return None


def _equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema has it: 1 == 1.0, but true != 1."""
    if a is b:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return len(a) == len(b) and all(k in b and _equal(v, b[k]) for k, v in a.items())
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    return a == b


def _all_of(checks: Sequence[Check]) -> Check:
    checks = tuple(checks)
    if len(checks) == 1:
        return checks[0]

    def check(x: Any) -> bool:
        for one in checks:
            if not one(x):
                return False
        return True
    return check


def _compile(schema: Any) -> Check:
    if schema is True:
        return lambda x: True
    if schema is False:
        return lambda x: False
    if not isinstance(schema, dict):
        raise _Unsupported(schema)
    checks = []
    for key, value in schema.items():
        if key not in _ANNOTATIONS:
            make = _KEYWORDS.get(key)
            if make is None:
                raise _Unsupported(key)
            checks.append(make(value, schema))
    return _all_of(checks) if checks else (lambda x: True)


def _type(value: Any, schema: dict) -> Check:
    preds = tuple(JSON_TYPES[name].has for name in ([value] if isinstance(value, str) else value))
    return preds[0] if len(preds) == 1 else (lambda x: any(p(x) for p in preds))


def _properties(value: dict, schema: dict) -> Check:
    subs = tuple((name, _compile(sub)) for name, sub in value.items())

    def check(x: Any) -> bool:
        if isinstance(x, dict):
            for name, sub in subs:
                if name in x and not sub(x[name]):
                    return False
        return True
    return check


def _additional(value: Any, schema: dict) -> Check:
    known, sub = frozenset(schema.get("properties") or ()), _compile(value)
    return lambda x: not isinstance(x, dict) or all(sub(v) for k, v in x.items() if k not in known)


def _items(value: Any, schema: dict) -> Check:
    sub = _compile(value)
    return lambda x: not isinstance(x, list) or all(sub(item) for item in x)


def _bound(kind: type | tuple, size: Callable[[Any], Any], ok: Callable[[Any, Any], bool]):
    def make(value: Any, schema: dict) -> Check:
        if kind is dict or kind is list or kind is str:
            return lambda x: not isinstance(x, kind) or ok(size(x), value)
        return lambda x: not is_number(x) or ok(size(x), value)
    return make


def _combine(value: list, quantifier: Callable[[list[bool]], bool]) -> Check:
    subs = tuple(_compile(sub) for sub in value)
    return lambda x: quantifier([sub(x) for sub in subs])


_KEYWORDS: dict[str, Callable[[Any, dict], Check]] = {
    "type": _type,
    "const": lambda value, schema: lambda x: _equal(x, value),
    "enum": lambda value, schema: lambda x: any(_equal(x, e) for e in value),
    "required": lambda value, schema: lambda x: not isinstance(x, dict) or all(k in x for k in value),
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "minLength": _bound(str, len, lambda n, v: n >= v),
    "maxLength": _bound(str, len, lambda n, v: n <= v),
    "minItems": _bound(list, len, lambda n, v: n >= v),
    "maxItems": _bound(list, len, lambda n, v: n <= v),
    "minProperties": _bound(dict, len, lambda n, v: n >= v),
    "maxProperties": _bound(dict, len, lambda n, v: n <= v),
    "minimum": _bound(float, lambda x: x, lambda n, v: n >= v),
    "maximum": _bound(float, lambda x: x, lambda n, v: n <= v),
    "exclusiveMinimum": _bound(float, lambda x: x, lambda n, v: n > v),
    "exclusiveMaximum": _bound(float, lambda x: x, lambda n, v: n < v),
    "allOf": lambda value, schema: _combine(value, all),
    "anyOf": lambda value, schema: _combine(value, any),
    "oneOf": lambda value, schema: _combine(value, lambda results: results.count(True) == 1),
    "not": lambda value, schema: (lambda sub: lambda x: not sub(x))(_compile(value)),
}
