"""Safe YAML with source positions: every mapping, list, key and value keeps its file:line:col."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml
from yaml.constructor import SafeConstructor

from fakeai_contract.errors import ContractError, Location

MAX_FILE_BYTES = 1024 * 1024
#: Nodes visited with aliases expanded; a billion-laughs document hits this long before memory.
MAX_NODES = 100_000

_TAG = "tag:yaml.org,2002:"
_SCALARS: dict[str, Callable[[SafeConstructor, yaml.ScalarNode], Any]] = {
    _TAG + "str": SafeConstructor.construct_scalar,
    _TAG + "int": SafeConstructor.construct_yaml_int,
    _TAG + "float": SafeConstructor.construct_yaml_float,
    _TAG + "bool": SafeConstructor.construct_yaml_bool,
    _TAG + "null": SafeConstructor.construct_yaml_null,
    # A date stays the text the user wrote: contracts compare JSON values, not Python dates.
    _TAG + "timestamp": SafeConstructor.construct_scalar,
}
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"

#: Fixes for the YAML mistakes people make most, keyed by a fragment of PyYAML's problem text.
_YAML_FIXES = {
    "'\\t'": "indent with spaces, not tabs",
    "mapping values are not allowed here": "quote a value that contains ': ', or fix the indentation",
    "could not find expected ':'": "write 'key: value', or quote the text",
    "did not find expected key": "check the indentation of this line against the lines above",
    "found undefined alias": "define the anchor (&name) before using the alias (*name)",
    "expected a single document": "keep one document per contract file (remove the '---' separators)",
}


class PosDict(dict):
    """A mapping that remembers where it, each key and each value came from."""

    def __init__(self, *args, loc: Location | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc = loc
        self.key_locs: dict[str, Location] = {}
        self.value_locs: dict[str, Location] = {}
        self.var_text: dict[str, str] = {}     # values that were one whole ${...}: their text


class PosList(list):
    """A list that remembers where it and each item came from."""

    def __init__(self, *args, loc: Location | None = None):
        super().__init__(*args)
        self.loc = loc
        self.item_locs: list[Location | None] = []
        self.var_text: dict[int, str] = {}


class QuotedStr(str):
    """A string the user quoted: in free-form data (a request body) '${X}' stays a string."""


def location(file: str, mark) -> Location:
    """The 1-based Location of a PyYAML mark."""
    return Location(file, mark.line + 1, mark.column + 1)


def read_text(path: Path) -> str:
    """The file's text, refusing anything over the size cap or not UTF-8."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ContractError(f"{path} is a folder, not a contract file", Location(str(path)),
                            fix="name a .yaml file") from None
    except OSError as exc:
        raise ContractError(f"cannot read {path}: {exc.strerror or exc}", Location(str(path))) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ContractError(f"{path} is larger than {MAX_FILE_BYTES} bytes", Location(str(path)),
                            fix="split the contract with 'extends'")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ContractError(f"{path} is not UTF-8 text (byte {exc.start})", Location(str(path), line),
                            fix="save the file as UTF-8") from None


def _yaml_error(file: str, exc: yaml.YAMLError) -> ContractError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    loc = location(file, mark) if mark is not None else Location(file)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    text = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    start = getattr(exc, "context_mark", None)
    if start is not None and mark is not None and start.line != mark.line:
        text += f", started at line {start.line + 1}, column {start.column + 1}"
    fix = next((f for frag, f in _YAML_FIXES.items() if frag in text), None)
    return ContractError(text, loc, fix=fix)


class _Builder:
    """Turns composed nodes into PosDict/PosList/scalars, expanding aliases under a node cap."""

    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.active: set[int] = set()
        self.constructor = SafeConstructor()

    def loc(self, node) -> Location:
        return location(self.file, node.start_mark)

    def build(self, node) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise ContractError(f"the document expands to more than {MAX_NODES} nodes "
                                "(aliases nested too deeply)", self.loc(node),
                                fix="write the values out instead of nesting aliases")
        if id(node) in self.active:
            raise ContractError("an alias refers to the node that contains it", self.loc(node),
                                fix="remove the recursive alias")
        builder = {yaml.ScalarNode: self.scalar, yaml.MappingNode: self.mapping,
                   yaml.SequenceNode: self.sequence}[type(node)]
        self.active.add(id(node))
        try:
            return builder(node)
        finally:
            self.active.discard(id(node))

    def _check_tag(self, node, allowed: tuple[str, ...]) -> None:
        if node.tag not in allowed:
            raise ContractError(f"the YAML tag {node.tag!r} is not allowed in a contract", self.loc(node),
                                fix="remove the tag: contracts hold plain data (strings, numbers, "
                                    "booleans, null, lists, mappings)")

    def scalar(self, node: yaml.ScalarNode) -> Any:
        self._check_tag(node, tuple(_SCALARS))
        try:
            value = _SCALARS[node.tag](self.constructor, node)
        except (ValueError, yaml.YAMLError):
            raise ContractError(f"cannot read the value {node.value[:40]!r}...: the number is too large",
                                self.loc(node),
                                fix="write a smaller number, or quote it to make it a string") from None
        if isinstance(value, str) and node.style in ("'", '"'):
            return QuotedStr(value)
        return value

    def sequence(self, node: yaml.SequenceNode) -> PosList:
        self._check_tag(node, (_SEQ,))
        out = PosList(loc=self.loc(node))
        for item in node.value:
            out.append(self.build(item))
            out.item_locs.append(self.loc(item))
        return out

    def mapping(self, node: yaml.MappingNode) -> PosDict:
        self._check_tag(node, (_MAP,))
        out = PosDict(loc=self.loc(node))
        merged: list[PosDict] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.extend(self._merge_sources(value_node))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise ContractError("a mapping key must be a plain string", self.loc(key_node),
                                    fix="write the key as text")
            self._check_tag(key_node, tuple(_SCALARS))
            key = key_node.value
            if key in out:
                first = out.key_locs[key]
                raise ContractError(f"duplicate key {key!r} (first defined at line {first.line})",
                                    self.loc(key_node), fix=f"remove one of the two {key!r} keys")
            self.count += 1
            out[key] = self.build(value_node)
            out.key_locs[key] = self.loc(key_node)
            out.value_locs[key] = self.loc(value_node)
        # YAML merge keys ('<<: *base'): earlier sources win, explicit keys win over all.
        for source in merged:
            for key, value in source.items():
                if key not in out:
                    out[key] = value
                    out.key_locs[key] = source.key_locs[key]
                    out.value_locs[key] = source.value_locs[key]
        return out

    def _merge_sources(self, node) -> list[PosDict]:
        value = self.build(node)
        sources = value if isinstance(value, PosList) else [value]
        if not all(isinstance(s, PosDict) for s in sources):
            raise ContractError("'<<' must merge a mapping or a list of mappings", self.loc(node),
                                fix="write '<<: *anchor' where the anchor names a mapping")
        return sources


def parse(text: str, file: str) -> Any:
    """Parse one YAML document into positioned data; every problem is a ContractError."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(file, exc) from None
    except RecursionError:
        raise ContractError("the YAML document is nested too deeply", Location(file),
                            fix="flatten the structure") from None
    if node is None:
        return None
    try:
        return _Builder(file).build(node)
    except RecursionError:
        raise ContractError("the YAML document is nested too deeply", Location(file),
                            fix="flatten the structure") from None


def load_file(path: Path) -> Any:
    """Read and parse a contract file into positioned data."""
    return parse(read_text(path), str(path))


def value_location(container: Any, key: Any) -> Location | None:
    """Where CONTAINER[KEY] was written, if known."""
    if isinstance(container, PosDict):
        return container.value_locs.get(key, container.loc)
    if isinstance(container, PosList):
        if isinstance(key, int) and 0 <= key < len(container.item_locs):
            return container.item_locs[key]
        return container.loc
    return None


def key_location(container: Any, key: Any) -> Location | None:
    """Where the key KEY of CONTAINER was written, if known."""
    if isinstance(container, PosDict):
        return container.key_locs.get(key, container.loc)
    return value_location(container, key)


def locate(root: Any, path) -> Location | None:
    """The Location of the value at PATH (keys and indexes) under ROOT: the deepest one known."""
    node, loc = root, getattr(root, "loc", None)
    for step in path:
        found = value_location(node, step)
        loc = found or loc
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
    return loc


def copy_with(container: PosDict | PosList, items) -> PosDict | PosList:
    """A new container of the same kind with ITEMS and the positions of CONTAINER."""
    if isinstance(container, PosDict):
        out = PosDict(items, loc=container.loc)
        out.key_locs = {k: v for k, v in container.key_locs.items() if k in out}
        out.value_locs = {k: v for k, v in container.value_locs.items() if k in out}
        return out
    out = PosList(items, loc=container.loc)
    out.item_locs = list(container.item_locs)
    return out
