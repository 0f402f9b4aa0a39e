"""The evaluation document's known shape, so lint can flag a misspelt path: the `client` section (its
keys are those schemas/ledger.schema.json lists), `vars` (the declared names), and endpoint, health
and snapshot documents whose JSON Schema is closed (`additionalProperties: false`). Anything whose
shape cannot be known (an open schema, a map of models, a projection) is not flagged."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterator, Mapping

from fakeai_contract import expr, resources

#: AST nodes whose left child is read from where the node is, and the rest from each element
_PROJECTIONS = ("subexpression", "index_expression", "projection", "value_projection", "filter_projection", "flatten")
#: keywords that make an object schema's set of keys something a property list alone does not say
_OPENING = ("patternProperties", "anyOf", "oneOf", "allOf", "if", "unevaluatedProperties", "propertyNames")


@functools.lru_cache(maxsize=1)
def ledger_schema() -> dict:
    """schemas/ledger.schema.json, which describes the `client` section."""
    return json.loads((resources.schemas_dir() / "ledger.schema.json").read_text(encoding="utf-8"))


def _resolve(schema: Any, root: Any) -> Any:
    """SCHEMA with local `$ref`s (#/...) followed; None for one that leaves the document."""
    for _ in range(32):
        if not isinstance(schema, Mapping) or "$ref" not in schema:
            return schema
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        node: Any = root
        for part in filter(None, ref[1:].split("/")):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, Mapping) else None
        schema = node
    return None


def closed_keys(schema: Any, root: Any = None, *, listed_is_closed: bool = False) -> set[str] | None:
    """The keys an object schema allows, when they are all known; None when any key may appear.

    A schema is closed by `additionalProperties: false`; with LISTED_IS_CLOSED (our own ledger
    schema, which lists every key the runner writes) a property list without additionalProperties
    is closed too.
    """
    schema = _resolve(schema, schema if root is None else root)
    if not isinstance(schema, Mapping) or any(k in schema for k in _OPENING):
        return None
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if extra is False or (listed_is_closed and extra is None and isinstance(props, Mapping)):
        return set(props or ())
    return None


def child_schema(schema: Any, key: str, root: Any) -> Any:
    """The schema of KEY's value in an object SCHEMA (a listed property, or a map's values), or None."""
    schema = _resolve(schema, root)
    if not isinstance(schema, Mapping):
        return None
    props = schema.get("properties") or {}
    return props.get(key, schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), Mapping) else None)


def _prefix(node: dict) -> tuple[list[str], bool]:
    """The field names NODE reads from its context, and whether NODE is nothing but those fields."""
    kind = node.get("type")
    if kind == "field":
        return [node["value"]], True
    kids = [c for c in node.get("children", ()) if isinstance(c, dict)]
    if kind == "subexpression":
        out: list[str] = []
        for kid in kids:
            part, whole = _prefix(kid)
            out += part
            if not whole:
                return out, False
        return out, True
    if kind in _PROJECTIONS and kids:
        return _prefix(kids[0])[0], False
    return [], False


def root_paths(parsed: dict) -> list[tuple[str, ...]]:
    """Every field path an expression reads from the top of the evaluation document."""
    paths: list[tuple[str, ...]] = []

    def visit(node: dict, at_root: bool) -> None:
        kind = node.get("type")
        kids = [c for c in node.get("children", ()) if isinstance(c, dict)]
        if at_root and (kind == "field" or kind in _PROJECTIONS):
            path = tuple(_prefix(node)[0])
            if path:
                paths.append(path)
        if kind in _PROJECTIONS:
            if kids:
                visit(kids[0], at_root)
            for kid in kids[1:]:
                visit(kid, False)
        elif kind != "expref":
            for kid in kids:
                visit(kid, at_root)

    visit(parsed, True)
    return paths


#: a key JMESPath reads bare; any other (``/v1/embeddings``, ``gpt-4``) is written quoted
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def jmespath_key(key: str) -> str:
    """KEY as a JMESPath field: bare when it is an identifier, else a quoted identifier (JSON escapes)."""
    return key if _IDENTIFIER.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def jmespath_path(head: str, keys: list[str]) -> str:
    """HEAD (``client``, ``delta.prom``) followed by KEYS, each written so the path is a valid expression."""
    return ".".join([head, *map(jmespath_key, keys)])


def misspelt(text: str, schemas: Mapping[str, tuple[Any, Any, bool]]) -> Iterator[tuple[str, str, list[str], str]]:
    """(path read, the part that exists, the keys allowed there, the key not among them), the paths
    written as JMESPath (a key that is not an identifier quoted), for each path of TEXT that names a key
    its document cannot have. SCHEMAS: root name (`client`, `prom`, `delta.prom`) → (its schema, the
    document its `$ref`s resolve in, whether its listed keys are all there is)."""
    for path in dict.fromkeys(root_paths(expr.compile_expression(text).parsed)):
        head, rest = path[0], list(path[1:])
        if head in expr.SNAPSHOT_ROOTS and rest:
            head, rest = f"{head}.{rest[0]}", rest[1:]
        if head not in schemas:
            continue
        schema, root, listed = schemas[head]
        for i, key in enumerate(rest):
            keys = closed_keys(schema, root, listed_is_closed=listed)
            if keys is not None and key not in keys:
                yield jmespath_path(head, rest[:i + 1]), jmespath_path(head, rest[:i]), sorted(keys), key
                break
            schema = child_schema(schema, key, root)      # a map's values (by_model) have a shape too
            if schema is None:
                break
