"""JSON's types as one table: which decoded values have each type name, and how messages name it.

The `type` operator, the compiled schema check and the contract validator's coercion of `${...}`
values all read `JSON_TYPES`; the names are JSON Schema's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable


def is_number(x: Any) -> bool:
    """A JSON number: int or float, not a boolean, not NaN (JSON cannot write NaN)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x


@dataclass(frozen=True)
class JsonType:
    """One JSON type: the test for a decoded value, and the words a contract error uses for it."""

    has: Callable[[Any], bool]
    words: str


#: type name → its facts, narrowest first (3 is an integer before it is a number)
JSON_TYPES: dict[str, JsonType] = {
    "null": JsonType(lambda v: v is None, "null"),
    "boolean": JsonType(lambda v: isinstance(v, bool), "true or false"),
    # as JSON Schema has it: 2.0 is an integer too
    "integer": JsonType(lambda v: (isinstance(v, int) and not isinstance(v, bool))
                        or (isinstance(v, float) and v.is_integer()), "an integer"),
    "number": JsonType(is_number, "a number"),
    "string": JsonType(lambda v: isinstance(v, str), "a string"),
    "array": JsonType(lambda v: isinstance(v, list), "a list"),
    "object": JsonType(lambda v: isinstance(v, dict), "a mapping"),
}


def json_type(value: Any) -> str:
    """The JSON type name of VALUE (the narrowest: 3 is an integer), else its Python type's name."""
    return next((name for name, t in JSON_TYPES.items() if t.has(value)), type(value).__name__)


def has_type(value: Any, names: Iterable[str]) -> bool:
    """Whether VALUE has one of the JSON types NAMES."""
    return any(JSON_TYPES[name].has(value) for name in names if name in JSON_TYPES)
