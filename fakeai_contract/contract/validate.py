"""The contract's shape and meaning checked: schema errors in the user's words, semantic checks."""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Iterable, Iterator, Mapping

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from fakeai_contract import expr, resources
from fakeai_contract.expr import SNAPSHOT_ROOTS
from fakeai_contract.checks.jsontypes import JSON_TYPES, has_type
from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.errors import ContractError, Location, did_you_mean
from fakeai_contract.checks.operators import OPERATORS, Operand, operand_expressions
from fakeai_contract.contract.reads import Known, bucket_errors, known_document, read_errors
from fakeai_contract.contract.variables import typed
from fakeai_contract.contract.positions import PosDict, key_location, locate, value_location

MAX_ERRORS = 20
MAX_TOTAL_REQUESTS = 1_000_000
#: Names a check may read besides the endpoints (see the evaluation document in the README).
DOCUMENT_ROOTS = ("health", "client", "vars")
_VARIABLE_REF = {"$ref": "#/$defs/variable"}


def _strip_variables(node: Any) -> Any:
    """The contract schema for resolved documents: the ${...} alternatives removed."""
    if isinstance(node, list):
        return [_strip_variables(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strip_variables(v) for k, v in node.items()}
    if isinstance(out.get("anyOf"), list) and _VARIABLE_REF in out["anyOf"]:
        rest = [alt for alt in out.pop("anyOf") if alt != _VARIABLE_REF]
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
    return out


@functools.lru_cache(maxsize=1)
def contract_schema() -> dict:
    """The contract format's JSON Schema, as shipped (it accepts ${VAR} where numbers go)."""
    return json.loads((resources.schemas_dir() / "contract.schema.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=2)
def _validator(resolved: bool) -> Draft202012Validator:
    schema = contract_schema()
    return Draft202012Validator(_strip_variables(schema) if resolved else schema)


# --- JSON Schema errors, in the user's words -------------------------------------------------------

def _where(path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "the contract"


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fix_from(schema: Any, key: Any) -> str | None:
    examples = schema.get("examples") if isinstance(schema, dict) else None
    if not examples or isinstance(key, int) or key is None:
        return None
    shown = " or ".join(f"{key}: {json.dumps(e)}" for e in examples[:2])
    return f"write {shown}"


def _unknown_keys(err: ValidationError, tree: Any) -> Iterator[ContractError]:
    known = list(err.schema.get("properties", {}))
    where = _where(err.absolute_path)
    for key in sorted(set(err.instance) - set(known)):
        hint = did_you_mean(key, known)
        yield ContractError(f"unknown key {key!r} in {where}" + (f"; did you mean {hint!r}?" if hint else ""),
                            key_location(_at(tree, err.absolute_path), key),
                            fix=f"write {hint!r} instead" if hint else f"use one of: {', '.join(known)}")


def _at(tree: Any, path) -> Any:
    for step in path:
        tree = tree[step]
    return tree


def _message(err: ValidationError, where: str) -> str:
    kw, v, got = err.validator, err.validator_value, err.instance
    table = {
        "type": lambda: f"{where}: expected "
                        f"{' or '.join((JSON_TYPES[t].words if t in JSON_TYPES else t) for t in (v if isinstance(v, list) else [v]))}, "
                        f"got {_shown(got)}",
        "required": lambda: f"{where} is missing the required key "
                            f"{next((k for k in v if k not in got), v[0])!r}",
        "enum": lambda: f"{where} must be one of {', '.join(map(_shown, v))}, got {_shown(got)}"
                        + (f"; did you mean {hint!r}?" if isinstance(got, str)
                           and (hint := did_you_mean(got, [str(x) for x in v])) else ""),
        "const": lambda: f"{where} must be {_shown(v)}, got {_shown(got)}",
        "minimum": lambda: f"{where} must be at least {v}, got {_shown(got)}",
        "maximum": lambda: f"{where} must be at most {v}, got {_shown(got)}",
        "exclusiveMinimum": lambda: f"{where} must be greater than {v}, got {_shown(got)}",
        "exclusiveMaximum": lambda: f"{where} must be less than {v}, got {_shown(got)}",
        "minItems": lambda: f"{where} must have at least {v} item(s), got {len(got)}",
        "maxItems": lambda: f"{where} must have at most {v} item(s), got {len(got)}",
        "minLength": lambda: f"{where} must not be empty",
        "uniqueItems": lambda: f"{where} lists the same item twice",
        "pattern": lambda: f"{where}: {_shown(got)} is not in the expected form",
    }
    return table[kw]() if kw in table else f"{where}: {err.message}"


def _schema_errors(err: ValidationError, tree: Any, examples_from: Any = None) -> Iterator[ContractError]:
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        yield from _unknown_keys(err, tree)
        return
    if err.validator in ("anyOf", "oneOf") and err.context:
        # A ${VAR} alternative never explains a mistake; prefer the branch whose type matched.
        alternatives = err.validator_value
        var_index = alternatives.index(_VARIABLE_REF) if _VARIABLE_REF in alternatives else None
        branches = [e for e in err.context if e.relative_schema_path[0] != var_index] or list(err.context)
        # A branch whose type or constant does not match this value is the wrong branch (health: false
        # or a mapping: a mapping's mistake is explained by the mapping's branch).
        wrong = {e.relative_schema_path[0] for e in branches
                 if not e.relative_path and e.validator in ("type", "const")}
        branches = [e for e in branches if e.relative_schema_path[0] not in wrong] or branches
        pick = next((e for e in branches if e.validator != "type"), branches[0])
        yield from _schema_errors(pick, tree, examples_from=err.schema)
        return
    key = path[-1] if path else None
    where = _where(path)
    if "propertyNames" in err.relative_schema_path or "propertyNames" in err.schema_path:
        yield ContractError(f"{where}: the name {_shown(err.instance)} is not allowed",
                            key_location(_at(tree, path), err.instance),
                            fix="use letters, digits and '_' only, starting with a letter or '_'")
        return
    loc = locate(tree, path)
    if err.validator == "pattern" and key == "path" and isinstance(err.instance, str):
        fixed = "/" + err.instance.lstrip("/") if err.instance.strip() else "/v1/completions"
        yield ContractError(f"{where}: {_shown(err.instance)} must start with '/'; did you mean {fixed!r}?", loc,
                            fix=f"write {key}: {json.dumps(fixed)} (paths resolve against the server root)")
        return
    if err.validator == "required":
        missing = next((k for k in err.validator_value if k not in err.instance), None)
        # an anyOf branch ({required: [...]}) has no properties: the examples are the parent's
        props = err.schema.get("properties") or (examples_from or {}).get("properties") or {}
        if not props and not path:
            props = contract_schema().get("properties", {})
        example = props.get(missing, {})
        yield ContractError(_message(err, where), loc, fix=_fix_from(example, missing) or f"add {missing}")
        return
    yield ContractError(_message(err, where), loc,
                        fix=_fix_from(examples_from or err.schema, key) or _fix_from(err.schema, key))


def _leaf_errors(errors):
    """ERRORS with the errors inside every anyOf/oneOf branch (a section that may also be `false`,
    such as `health`, reports its keys' type errors only there)."""
    for err in errors:
        yield err
        if err.context:
            yield from _leaf_errors(err.context)


def coerce_variables(tree: Any) -> None:
    """Read a value that was one whole ${...} as the type its key wants: '5' → 5 for a timeout
    written in a flow mapping (where ${...} must be quoted), 1 → '1' for a header."""
    for _ in range(MAX_ERRORS):
        changed = False
        for err in _leaf_errors(_validator(True).iter_errors(tree)):
            path = list(err.absolute_path)
            if err.validator != "type" or not path:
                continue
            container, key = _at(tree, path[:-1]), path[-1]
            text = getattr(container, "var_text", {}).get(key)
            allowed = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
            if text is None:
                continue
            for candidate in (typed(text), text):
                if has_type(candidate, allowed) and candidate != container[key]:
                    container[key], changed = candidate, True
                    break
        if not changed:
            return


def validate_shape(tree: Any, resolved: bool) -> list[ContractError]:
    """The first MAX_ERRORS ways TREE breaks the contract schema (RESOLVED: ${...} no longer allowed)."""
    errors: list[ContractError] = []
    for err in sorted(_validator(resolved).iter_errors(tree), key=lambda e: list(map(str, e.absolute_path))):
        errors.extend(_schema_errors(err, tree))
        if len(errors) >= MAX_ERRORS:
            break
    return errors[:MAX_ERRORS]


# --- semantic checks ------------------------------------------------------------------------------

def _function_names() -> list[str]:
    return sorted(n[len("_func_"):] for n in dir(expr.OPTIONS.custom_functions) if n.startswith("_func_"))


def check_expression(text: str, what: str, endpoints: list[str], loc: Location | None,
                     operand: bool = False, removed: Mapping[str, Any] | None = None) -> list[ContractError]:
    """Problems with a JMESPath expression: syntax, unknown functions, names the document lacks."""
    try:
        expr.compile_expression(text)
    except (expr.JMESPathError, ValueError, TypeError, RecursionError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        first = first.replace("Invalid jmespath expression: ", "").removesuffix(", for expression:").rstrip(":")
        return [ContractError(f"{what}: {text!r} is not a valid JMESPath expression: {first}", loc,
                              fix="see https://jmespath.org/specification.html; literals go in backticks, "
                                  "e.g. `0`, and literal strings in single quotes, e.g. 'healthy'")]
    errors = []
    for name in sorted(expr.function_names(text)):
        if not expr.is_known_function(name):
            # The project's own functions first: 'sbu' is more likely 'sub' than 'sum'.
            hint = did_you_mean(name, expr.EXTRA_FUNCTIONS) or did_you_mean(name, _function_names())
            errors.append(ContractError(
                f"{what} calls the unknown function {name}()" + (f"; did you mean {hint}()?" if hint else ""),
                loc, fix=f"write {hint}() instead" if hint else f"use one of: {', '.join(_function_names())}"))
    allowed = [*endpoints, *DOCUMENT_ROOTS, *SNAPSHOT_ROOTS]
    removed = removed or {}
    for name in sorted(expr.root_names(text)):
        if name in removed and name not in allowed:
            errors.append(_reads_removed(what, name, name, removed[name], loc))
        elif name not in allowed:
            hint = did_you_mean(name, allowed)
            errors.append(ContractError(
                f"{what} reads {name!r}, which is not an endpoint"
                + (f"; did you mean {hint!r}?" if hint else f" (endpoints: {', '.join(endpoints) or 'none'})"),
                loc, fix=(f"write {hint!r} instead" if hint else
                          "name an endpoint, before.<endpoint>, delta.<endpoint>, health, client or vars")
                + (f"; for the literal string write the JMESPath raw string \"'{text}'\"" if operand else "")))
    for root, name in expr.snapshot_reads(text):
        if name in removed and name not in endpoints:
            errors.append(_reads_removed(what, f"{root}.{name}", name, removed[name], loc))
        elif name is not None and name not in endpoints:
            hint = did_you_mean(name, endpoints)
            errors.append(ContractError(
                f"{what} reads {root}.{name}, but {name!r} is not an endpoint"
                + (f"; did you mean {hint!r}?" if hint else ""), loc,
                fix=f"write {root}.{hint} instead" if hint else f"write {root}.<endpoint>"))
    return errors


def _reads_removed(what: str, read: str, name: str, removal: Any, loc: Location | None) -> ContractError:
    where = f" at {removal.location}" if getattr(removal, "location", None) else ""
    check = what.split(" (")[0]
    fix = (f"remove the check too: - {{name: {check.removeprefix('check ')}, remove: true}}"
           if check.startswith("check ") else f"stop reading {name!r} here")
    return ContractError(f"{what} reads {read!r}, but the endpoint {name!r} is removed{where} "
                         "(endpoints: {" + name + ": null})", loc, fix=fix)


def _regex_errors(pattern: str, what: str, loc: Location | None) -> list[ContractError]:
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        return [ContractError(f"{what}: {pattern!r} is not a valid regular expression: {exc}", loc,
                              fix="escape special characters with a backslash, e.g. \\( or \\.")]
    return []


def _expression_errors(text: str, what: str, endpoints: list[str], loc: Location | None, known: Known,
                       operand: bool = False, removed: Mapping[str, Any] | None = None) -> list[ContractError]:
    """check_expression, then (when it found nothing) what the expression reads against KNOWN."""
    errors = check_expression(text, what, endpoints, loc, operand=operand, removed=removed)
    return errors or read_errors(text, what, loc, known)


def _check_errors(c: PosDict, loc: Location | None, endpoints: list[str],
                  removed: Mapping[str, Any], known: Known) -> list[ContractError]:
    name = c["name"]
    ops = [k for k in OPERATORS if k in c]
    if len(ops) != 1:
        what = "no operator" if not ops else f"{len(ops)} operators ({', '.join(ops)})"
        return [ContractError(f"check {name!r} has {what}; a check has exactly one", loc,
                              fix="keep one of: " + ", ".join(OPERATORS)
                              + ("; use between: [lo, hi] for a range" if ops else ""))]
    op = ops[0]
    errors = _expression_errors(c["that"], f"check {name!r}", endpoints, value_location(c, "that"), known,
                                removed=removed)
    operand, operand_loc = c[op], value_location(c, op)
    for index, text in operand_expressions(op, operand):
        loc = operand_loc if index is None else value_location(operand, index)
        errors += _expression_errors(text, f"check {name!r} ({op})", endpoints, loc, known, operand=True,
                                     removed=removed)
    if OPERATORS[op].operand is Operand.REGEX:
        errors += _regex_errors(operand, f"check {name!r}", operand_loc)
    if "tolerance" in c and not OPERATORS[op].tolerant:
        errors.append(ContractError(f"check {name!r}: tolerance does not apply to {op}",
                                    key_location(c, "tolerance"), fix="remove the tolerance"))
    elif not errors:
        texts = [c["that"], *(text for _, text in operand_expressions(op, operand))]
        errors += bucket_errors(name, c.get("tolerance"), texts, value_location(c, "tolerance"))
    return errors


def _schema_file_errors(tree: PosDict, store: SchemaStore) -> list[ContractError]:
    named: list[tuple[str, Location | None]] = []
    health = tree.get("health") or {}
    if health.get("schema"):
        named.append((health["schema"], value_location(health, "schema")))
    for entry in (tree.get("load") or {}).get("mix") or []:
        named += [(entry[k], value_location(entry, k)) for k in ("response_schema", "chunk_schema") if entry.get(k)]
    for ep in (tree.get("endpoints") or {}).values():
        if ep.get("schema"):
            named.append((ep["schema"], value_location(ep, "schema")))
    errors = []
    for name, loc in named:
        try:
            store.validator(name)
        except ContractError as exc:
            # Point at the contract line that names the schema; the schema file is in the message.
            where = f" (at {exc.location})" if exc.location is not None and exc.location.line else ""
            errors.append(ContractError(exc.message + where, loc or exc.location, fix=exc.fix))
    return errors


def _finite_errors(node: Any, path: tuple = ()) -> Iterator[ContractError]:
    if isinstance(node, float) and (node != node or node in (float("inf"), float("-inf"))):
        yield ContractError(f"{_where(path)} is {node}, not a finite number", None, fix="write a finite number")
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from (_located(e, node, k) for e in _finite_errors(v, path + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from (_located(e, node, i) for e in _finite_errors(v, path + (i,)))


def _located(err: ContractError, container: Any, key: Any) -> ContractError:
    if err.location is None:
        err.location = value_location(container, key)
    return err


def _open_loop_errors(load: PosDict) -> list[ContractError]:
    """Open-loop keys that mean nothing without `rate`, and a schedule too long to keep."""
    errors = []
    if "rate" not in load:
        for key in ("arrival", "max_in_flight"):
            if key in load:
                errors.append(ContractError(f"load.{key} applies to open-loop load only", key_location(load, key),
                                            fix=f"add load.rate (requests per second), or remove load.{key}"))
    elif "duration" in load and load["rate"] * load["duration"] > MAX_TOTAL_REQUESTS:
        errors.append(ContractError(
            f"load.rate x load.duration schedules {load['rate'] * load['duration']:.0f} requests, "
            f"more than {MAX_TOTAL_REQUESTS}", value_location(load, "rate"), fix="lower the rate or the duration"))
    return errors


def semantic_errors(tree: PosDict, store: SchemaStore, removed: Mapping[str, Any] | None = None,
                    variables: Iterable[str] | None = None) -> list[ContractError]:
    """Every problem the JSON Schema cannot express, each at its location (REMOVED: endpoints the
    overlays removed, by name, so a check still reading one says so; VARIABLES: the names `vars`
    holds, declared or set on the command line; None: those the contract declares)."""
    removed = removed or {}
    errors = list(_finite_errors(tree))
    endpoints = list(tree.get("endpoints") or {})
    for name in endpoints:
        if name in (*DOCUMENT_ROOTS, *SNAPSHOT_ROOTS):
            errors.append(ContractError(f"endpoint name {name!r} is reserved by the evaluation document",
                                        key_location(tree["endpoints"], name), fix=f"rename it, e.g. {name}_doc"))
    known = known_document(tree, store, variables)
    checks = tree.get("checks") or []
    for i, c in enumerate(checks):
        errors += _check_errors(c, value_location(checks, i), endpoints, removed, known)
    settle = tree.get("settle")
    if settle:
        errors += _expression_errors(settle["until"], "settle.until", endpoints, value_location(settle, "until"),
                                     known, removed=removed)
    logs = tree.get("logs") or {}
    for key in ("fail_on", "ignore"):
        for i, pattern in enumerate(logs.get(key) or []):
            errors += _regex_errors(pattern, f"logs.{key}[{i}]", value_location(logs[key], i))
    load = tree.get("load") or {}
    mix = load.get("mix") or []
    total = sum(entry["count"] for entry in mix)
    if total > MAX_TOTAL_REQUESTS:
        errors.append(ContractError(f"load.mix sends {total} requests in all, more than {MAX_TOTAL_REQUESTS}",
                                    value_location(load, "mix"), fix="lower the counts"))
    errors += _open_loop_errors(load)
    for i, entry in enumerate(mix):
        if entry.get("method", "POST") in ("GET", "DELETE") and entry["body"].get("stream"):
            errors.append(ContractError(f"mix entry {entry['name']!r} streams, but {entry['method']} sends no body "
                                        "(so no stream: true)", value_location(entry, "method"),
                                        fix="send it with method: POST, or remove stream from the body"))
        if not (load.get("models") or entry.get("models") or entry["body"].get("model")):
            errors.append(ContractError(f"mix entry {entry['name']!r} has no model", value_location(mix, i),
                                        fix="list models under load.models, or write models: [...] here"))
    return errors + _schema_file_errors(tree, store)
