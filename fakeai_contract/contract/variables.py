"""Contract variables: ${NAME} and ${NAME:-default} in string values, resolved --set > env > vars."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Union

from fakeai_contract.errors import ContractError, Location, did_you_mean
from fakeai_contract.contract.positions import PosDict, PosList, QuotedStr, copy_with, value_location

#: Variables the seed's hand-written test read; always known, so a typo near them is suggested.
SEED_VARIABLES = ("SERVER_TIMEOUT", "REQUEST_TIMEOUT", "FAKEAI_HOST", "FAKEAI_PORT")
#: A variable whose name contains one of these holds a secret: its value is redacted in output.
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD")

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIX_SYNTAX = "write ${NAME} or ${NAME:-default}; write $${ for a literal ${"


class VariableSyntaxError(ValueError):
    """A malformed ${...} reference at OFFSET in the text."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Ref:
    """One ${NAME} or ${NAME:-default} reference; DEFAULT is a parsed template or None."""

    name: str
    default: tuple["Part", ...] | None


Part = Union[str, Ref]


def _scan_default(text: str, start: int) -> int:
    """The index of the '}' that closes a default starting at START (nested ${...} allowed)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("$${", i):
            i += 3
            continue
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise VariableSyntaxError("unclosed '${' (no matching '}')", start)


def parse(text: str, base: int = 0) -> tuple[Part, ...]:
    """Split TEXT into literal strings and references (raises VariableSyntaxError)."""
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
            continue
        if not text.startswith("${", i):
            literal.append(text[i])
            i += 1
            continue
        match = _NAME.match(text, i + 2)
        if not match:
            raise VariableSyntaxError("'${' must be followed by a variable name", base + i)
        end = match.end()
        if text.startswith("}", end):
            ref, i = Ref(match.group(), None), end + 1
        elif text.startswith(":-", end):
            close = _scan_default(text, end + 2)
            ref = Ref(match.group(), parse(text[end + 2:close], base + end + 2))
            i = close + 1
        else:
            raise VariableSyntaxError(f"unexpected text after '${{{match.group()}'", base + end)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(ref)
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def references(text: str) -> set[str]:
    """Every variable name TEXT refers to, defaults included."""
    def walk(parts):
        for p in parts:
            if isinstance(p, Ref):
                yield p.name
                if p.default:
                    yield from walk(p.default)
    return set(walk(parse(text)))


def as_text(value: Any) -> str:
    """A value as it reads inside a string (YAML/JSON spelling for booleans and null)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


#: The YAML 1.2 core schema's scalar types, in the order YAML tries them. YAML 1.1 (PyYAML's
#: default) would also turn 'on', 'no' or 'y' into booleans and '0755' into an octal number, which
#: surprises anyone whose variable holds a country code or a zero-padded port.
_CORE_SCALARS: tuple[tuple[re.Pattern, Callable[[str], Any]], ...] = (
    (re.compile(r"null|Null|NULL|~"), lambda t: None),
    (re.compile(r"true|True|TRUE"), lambda t: True),
    (re.compile(r"false|False|FALSE"), lambda t: False),
    (re.compile(r"[-+]?[0-9]+"), int),
    (re.compile(r"0o[0-7]+"), lambda t: int(t[2:], 8)),
    (re.compile(r"0x[0-9a-fA-F]+"), lambda t: int(t[2:], 16)),
    (re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"), float),
    (re.compile(r"[-+]?\.(inf|Inf|INF)"), lambda t: float(t.replace(".", ""))),
    (re.compile(r"\.(nan|NaN|NAN)"), lambda t: float("nan")),
)


def typed(text: str) -> Any:
    """TEXT typed as a plain YAML 1.2 scalar would be: null, booleans, numbers; else the text."""
    for pattern, convert in _CORE_SCALARS:
        if pattern.fullmatch(text):
            try:
                return convert(text)
            except ValueError:       # e.g. more digits than Python converts
                return text
    return text


def render(parts: tuple[Part, ...], lookup: Callable[[str], str | None]) -> str:
    """Substitute every reference; a default applies when its variable is unset or empty."""
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = lookup(part.name)
        if value in (None, "") and part.default is not None:
            value = render(part.default, lookup)
        if value is None:
            raise KeyError(part.name)
        out.append(value)
    return "".join(out)


def interpolate(text: str, lookup: Callable[[str], str | None]) -> str:
    """TEXT with its references substituted (KeyError for an undefined one without default)."""
    return render(parse(text), lookup)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


class Resolver:
    """Resolves variables with --set overrides over the environment over the contract's vars."""

    def __init__(self, declared: Mapping[str, Any], overrides: Mapping[str, str], env: Mapping[str, str]):
        self.declared = declared
        self.overrides = {k: as_text(v) for k, v in overrides.items()}
        self.env = env
        self.values: dict[str, Any] = {}       # every variable resolved so far, typed
        self.stack: list[str] = []

    def known_names(self) -> list[str]:
        return sorted({*self.declared, *self.overrides, *SEED_VARIABLES, *self.env})

    def value(self, name: str) -> Any:
        """NAME's typed value, or None when it is not defined anywhere."""
        if name in self.values:
            return self.values[name]
        if name in self.overrides:
            result = typed(self.overrides[name])
        elif name in self.env:
            result = typed(self.env[name])
        elif name in self.declared:
            result = self._declared(name)
        else:
            return None
        self.values[name] = result
        return result

    def _declared(self, name: str) -> Any:
        if name in self.stack:
            chain = " → ".join(self.stack[self.stack.index(name):] + [name])
            raise ContractError(f"variable cycle: {chain}", value_location(self.declared, name),
                                fix=f"give one of the variables in the cycle a value that does not "
                                    f"refer back to {name!r}")
        self.stack.append(name)
        try:
            raw = self.declared[name]
            return self.resolve_scalar(raw, value_location(self.declared, name)) \
                if isinstance(raw, str) else raw
        finally:
            self.stack.pop()

    def lookup(self, name: str) -> str | None:
        value = self.value(name)
        defined = name in self.values
        return as_text(value) if defined else None

    def resolve_scalar(self, text: str, loc: Location | None) -> Any:
        """A string value resolved; a plain scalar that is one whole reference is typed."""
        result, whole = self.render_scalar(text, loc)
        return typed(result) if whole and not isinstance(text, QuotedStr) else result

    def render_scalar(self, text: str, loc: Location | None) -> tuple[str, bool]:
        """TEXT with its references substituted, and whether it was one whole ${...} reference."""
        try:
            parts = parse(text)
        except VariableSyntaxError as exc:
            raise ContractError(f"malformed variable reference in {_short(text)}: {exc}", loc,
                                fix=_FIX_SYNTAX) from None
        try:
            result = render(parts, self.lookup)
        except KeyError as exc:
            missing = exc.args[0]
            hint = did_you_mean(missing, self.known_names())
            raise ContractError(
                f"undefined variable {missing!r} in {_short(text)}"
                + (f"; did you mean {hint!r}?" if hint else ""), loc,
                fix=f"declare it under vars, set it with --set {missing}=VALUE or in the environment, "
                    f"or write ${{{missing}:-default}}") from None
        return result, len(parts) == 1 and isinstance(parts[0], Ref)

    def secrets(self) -> set[str]:
        """Non-empty values of every resolved variable whose name marks it as a secret."""
        return {as_text(v) for k, v in self.values.items() if is_secret_name(k) and as_text(v)}


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def resolve_tree(tree: Any, resolver: Resolver, skip: tuple[str, ...] = ("vars",)) -> Any:
    """A copy of TREE with every string value resolved, positions kept; top-level SKIP keys as is.

    Each container records, in `var_text`, the text of values that were one whole ${...}
    reference, so validation can still read such a value as a string or as a number.
    """
    def walk(node: Any, skip: tuple[str, ...] = ()) -> Any:
        if not isinstance(node, (PosDict, PosList)):
            return str(node) if isinstance(node, str) else node
        keys = list(node.keys() if isinstance(node, PosDict) else range(len(node)))
        values, var_text = {}, {}
        for key in keys:
            value = node[key]
            if key in skip:
                values[key] = value
            elif isinstance(value, str) and "$" in value:
                text, whole = resolver.render_scalar(value, value_location(node, key))
                values[key] = typed(text) if whole and not isinstance(value, QuotedStr) else text
                if whole:
                    var_text[key] = text
            else:
                values[key] = walk(value)
        out = copy_with(node, values if isinstance(node, PosDict) else [values[k] for k in keys])
        out.var_text = var_text
        return out

    return walk(tree, skip)


def resolve_vars(resolver: Resolver) -> dict[str, Any]:
    """Every declared variable and --set override, resolved."""
    names = [*resolver.declared, *(n for n in resolver.overrides if n not in resolver.declared)]
    return {name: resolver.value(name) for name in names}
