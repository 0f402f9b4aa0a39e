"""JSON Schemas named by a contract: found in the allowed folders only, $ref confined to them too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import unquote, urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from fakeai_contract.checks.compiled import CompiledValidator, compile_check
from fakeai_contract.errors import ContractError, Location

MAX_SCHEMA_BYTES = 1024 * 1024
MAX_ERRORS = 20
MAX_MESSAGE = 300
#: Formats checked without extra packages and in constant-ish time; the rest are annotations.
CHEAP_FORMATS = ("date", "date-time", "time", "email", "ipv4", "ipv6", "uuid", "regex", "json-pointer")
_FORMATS = FormatChecker(formats=[f for f in CHEAP_FORMATS if f in FormatChecker.checkers])
#: Subtrees that hold data, not schemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})
#: Keywords whose value maps arbitrary names to schemas (a property may be called "$ref").
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


_UNRESOLVED = {"PointerToNowhere": "points to nothing in that document",
               "NoSuchAnchor": "names an anchor the document does not define"}


def _inside(path: Path, dirs: Sequence[Path]) -> bool:
    return any(path == d or d in path.parents for d in dirs)


def read_schema(path: Path) -> Any:
    """A schema file's contents (JSON, or YAML for .yaml/.yml), capped in size."""
    where = Location(str(path))
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SCHEMA_BYTES + 1)
    except OSError as exc:
        raise ContractError(f"cannot read the schema {path}: {exc.strerror or exc}", where) from None
    if len(raw) > MAX_SCHEMA_BYTES:
        raise ContractError(f"the schema {path.name} is larger than {MAX_SCHEMA_BYTES} bytes", where)
    try:
        text = raw.decode("utf-8-sig")
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"the schema {path.name} is not valid JSON: {exc.msg}",
                            Location(str(path), exc.lineno, exc.colno), fix="fix the JSON syntax") from None
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ContractError(f"the schema {path.name} cannot be read: {exc}", where) from None


def check_schema(contents: Any, path: Path) -> None:
    """Raise ContractError unless CONTENTS is a valid draft 2020-12 JSON Schema."""
    if not isinstance(contents, (dict, bool)):
        raise ContractError(f"the schema {path.name} is not a JSON Schema (its top level must be an "
                            "object)", Location(str(path)), fix="write a JSON object such as {\"type\": \"object\"}")
    try:
        Draft202012Validator.check_schema(contents)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise ContractError(f"the schema {path.name} is not a valid JSON Schema at {where}: "
                            f"{_clip(exc.message)}", Location(str(path)),
                            fix="see https://json-schema.org/draft/2020-12 for the keyword's form") from None
    except RecursionError:
        raise ContractError(f"the schema {path.name} is nested too deeply", Location(str(path))) from None


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


class SchemaStore:
    """Schemas looked up by name in DIRS, in order; validators built once and cached."""

    def __init__(self, dirs: Sequence[Path]):
        self.dirs = tuple(Path(d) for d in dirs)
        self._allowed = tuple(d.resolve() for d in self.dirs)
        self._cache: dict[str, Draft202012Validator] = {}
        self._retrieved: dict[str, Resource] = {}

    def find(self, name: str) -> Path:
        """The file NAME refers to: the first folder holding it; never a file outside the folders."""
        if not isinstance(name, str) or not name or Path(name).is_absolute() or "://" in name:
            raise ContractError(f"schema {name!r} must be a file name relative to the contract's folder",
                                fix="write schema: my_endpoint.schema.json")
        for folder in self.dirs:
            candidate = (folder / name).resolve()
            if candidate.is_file():
                if not _inside(candidate, self._allowed):
                    raise ContractError(f"schema {name!r} resolves to {candidate}, outside the allowed "
                                        "folders", fix="keep schemas beside the contract or in the shipped schemas/")
                return candidate
        shown = ", ".join(str(d) for d in self.dirs)
        raise ContractError(f"schema file {name!r} not found (looked in {shown})",
                            fix="create the file beside the contract, or name a shipped schema")

    def validator(self, name: str) -> Draft202012Validator:
        """A validator for the schema called NAME, every $ref already checked to resolve."""
        if name not in self._cache:
            self._cache[name] = self._build(self.find(name))
        return self._cache[name]

    def errors(self, name: str, document: Any) -> list[dict]:
        """DOCUMENT's errors against the schema NAME, as {path, message}; [] when it is valid."""
        validator = self.validator(name)
        return [] if validator.is_valid(document) else iter_errors(validator, document)

    def _retrieve(self, uri: str) -> Resource:
        if uri not in self._retrieved:
            self._retrieved[uri] = self._fetch(uri)
        return self._retrieved[uri]

    def _fetch(self, uri: str) -> Resource:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise ContractError(f"refers to {uri!r}: schemas may not load URLs", fix="copy the schema "
                                "into the contract's folder and refer to it by a relative path")
        path = Path(url2pathname(unquote(parts.path))).resolve()
        if not _inside(path, self._allowed):
            raise ContractError(f"refers to {path}, outside the allowed folders "
                                f"({', '.join(str(d) for d in self._allowed)})",
                                fix="keep referenced schemas beside the contract")
        if not path.is_file():
            raise ContractError(f"refers to {path.name}, which does not exist", fix="create the file")
        contents = read_schema(path)
        check_schema(contents, path)
        return Resource.from_contents(contents, default_specification=DRAFT202012)

    def _build(self, path: Path) -> Draft202012Validator:
        contents = read_schema(path)
        check_schema(contents, path)
        uri = path.as_uri()
        if isinstance(contents, dict):
            # Relative $refs resolve against the file itself, so they land in its folder.
            contents = {**contents, "$id": urljoin(uri, contents.get("$id", ""))}
            uri = contents["$id"]
        registry = Registry(retrieve=self._retrieve).with_resource(
            uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        registry = self._check_refs(path, uri, contents, registry)
        validator = Draft202012Validator(contents, registry=registry, format_checker=_FORMATS)
        check = compile_check(contents)
        return validator if check is None else CompiledValidator(validator, check)

    def _check_refs(self, path: Path, uri: str, contents: Any, registry: Registry) -> Registry:
        """Follow every $ref now, so a refused or broken one is a contract error, not a run-time one."""
        walked = {uri}
        pending = [(uri, contents)]
        while pending:
            base, node = pending.pop()
            for ref_base, ref in _refs(node, base):
                try:
                    registry.resolver(base_uri=ref_base).lookup(ref)
                except Unresolvable as exc:
                    cause = _refusal(exc)
                    why = cause.message if isinstance(cause, ContractError) else \
                        _UNRESOLVED.get(type(exc).__name__, "cannot be resolved")
                    fix = cause.fix if isinstance(cause, ContractError) else \
                        "refer to a file beside the schema, or to a '#/$defs/...' pointer"
                    raise ContractError(f"the schema {path.name} has $ref {ref!r}, which {why}",
                                        Location(str(path)), fix=fix) from None
                target = urldefrag(urljoin(ref_base, ref)).url
                if target not in walked and target in self._retrieved:
                    walked.add(target)
                    pending.append((target, self._retrieved[target].contents))
        return registry.with_resources(self._retrieved.items())


def _refusal(exc: BaseException) -> BaseException | None:
    """The ContractError our retrieve function raised, wherever referencing wrapped it."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ContractError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _refs(node: Any, base: str) -> Iterator[tuple[str, str]]:
    """(base URI, ref) for every $ref and $dynamicRef under NODE, following $id changes."""
    if isinstance(node, dict):
        if isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"])
        for key in ("$ref", "$dynamicRef"):
            if isinstance(node.get(key), str):
                yield base, node[key]
        for key, value in node.items():
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for sub in value.values():
                    yield from _refs(sub, base)
            elif key not in _DATA_KEYWORDS:
                yield from _refs(value, base)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item, base)


def validate_schema_file(name: str, dirs: Sequence[Path]) -> Path:
    """Check the schema NAME exists in DIRS, is a valid JSON Schema and its $refs stay inside; its path."""
    store = SchemaStore(dirs)
    store.validator(name)
    return store.find(name)


def iter_errors(validator: Draft202012Validator, document: Any) -> list[dict]:
    """The first errors of DOCUMENT against VALIDATOR, as {"path": JSON path, "message": text}."""
    try:
        errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    except (Unresolvable, NoSuchResource) as exc:
        return [{"path": "$", "message": f"the schema could not be evaluated: {_clip(str(exc))}"}]
    except RecursionError:
        return [{"path": "$", "message": "the document is nested too deeply to validate"}]
    return [{"path": e.json_path, "message": _clip(e.message)} for e in errors[:MAX_ERRORS]]


def describe_errors(errors: list[dict], most: int = 1) -> str | None:
    """The first MOST errors of `iter_errors` as "path: message", joined by "; "; None when there are none."""
    return "; ".join(f"{e['path']}: {e['message']}" for e in errors[:most]) or None
