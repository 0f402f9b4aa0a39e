"""Load a contract: YAML with positions → extends merged → variables resolved → validated → Contract."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from fakeai_contract import resources
from fakeai_contract.checks.schema import SchemaStore
from fakeai_contract.errors import ContractError, ContractErrors, Location, did_you_mean
from fakeai_contract.contract.merge import load_tree
from fakeai_contract.checks.operators import OPERATORS
from fakeai_contract.model import (Check, Contract, Endpoint, Eventually, Health, Load,
                                   LogRules, MixEntry, ServerSpec, Settle, Target)
from fakeai_contract.contract.validate import MAX_ERRORS, coerce_variables, semantic_errors, validate_shape
from fakeai_contract.contract.variables import Resolver, resolve_tree, resolve_vars
from fakeai_contract.contract.positions import PosDict, PosList, value_location


# --- building the model ---------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """VALUE as plain dicts, lists and strings (no position bookkeeping)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


def _given(cls, section: Mapping, **extra) -> Any:
    """CLS built from the keys SECTION sets (defaults for the rest), plus EXTRA."""
    fields = set(cls.__dataclass_fields__)
    return cls(**{k: plain(v) for k, v in section.items() if k in fields and k not in extra}, **extra)


def _floats(section: Mapping, *keys: str) -> dict:
    return {k: float(section[k]) for k in keys if k in section}


def _ints(section: Mapping, *keys: str) -> dict:
    # JSON Schema counts 10.0 as an integer; the model wants a real int.
    return {k: int(section[k]) for k in keys if k in section}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "check"


def _check_ids(checks: list) -> list[str]:
    ids, seen = [], set()
    for item in checks:
        base = f"check/{_slug(item['name'])}"
        cid, n = base, 1
        while cid in seen:
            n += 1
            cid = f"{base}-{n}"
        seen.add(cid)
        ids.append(cid)
    return ids


def build(tree: PosDict, source: Path) -> Contract:
    """The Contract dataclasses from a validated, resolved tree (no schema dirs, vars or secrets)."""
    t = tree["target"]
    tls = t.get("tls") or {}
    target = _given(Target, t, **_floats(t, "request_timeout", "connect_timeout", "read_timeout"),
                    **_ints(t, "max_body_bytes", "max_redirects"), tls_verify=tls.get("verify", True) is not False,
                    ca_file=str(tls["ca_file"]) if tls.get("ca_file") else None)
    h = tree.get("health")
    health_loc = value_location(tree, "health") if "health" in tree else None
    if h is False:
        health = Health(enabled=False, location=health_loc)
    else:
        h = h or PosDict()
        health = _given(Health, h, location=health_loc, **_floats(h, "timeout", "interval"))
    ld = tree.get("load") or PosDict()
    mix = ld.get("mix") or PosList()
    entries = tuple(_given(MixEntry, e, location=value_location(mix, i), count=int(e["count"]),
                           models=tuple(e["models"]) if "models" in e else None,
                           headers={str(k): str(v) for k, v in (e.get("headers") or {}).items()})
                    for i, e in enumerate(mix))
    load = _given(Load, ld, mix=entries, models=tuple(ld.get("models") or ()), **_ints(ld, "concurrency", "itemize", "max_in_flight", "seed"),
                  **_floats(ld, "rate", "duration"),
                  location=value_location(tree, "load") if "load" in tree else None)
    s = tree.get("settle")
    settle = _given(Settle, s, location=value_location(tree, "settle"), **_floats(s, "timeout", "interval")) \
        if s else None
    eps = tree.get("endpoints") or PosDict()
    endpoints = {n: _given(Endpoint, e, name=n, location=value_location(eps, n),
                           metrics=tuple(e["metrics"]) if e.get("metrics") is not None else None,
                           optional_metrics=tuple(e.get("optional_metrics") or ()))
                 for n, e in eps.items()}
    checks = tree.get("checks") or PosList()
    built = []
    for i, (cid, c) in enumerate(zip(_check_ids(checks), checks)):
        op = next(k for k in OPERATORS if k in c)
        ev = c.get("eventually")
        tol = c.get("tolerance")
        built.append(Check(
            id=cid, name=c["name"], that=c["that"], op=op, expected=plain(c[op]),
            tolerance=float(tol) if isinstance(tol, (int, float)) else tol, severity=c.get("severity", "error"),
            tags=tuple(c.get("tags") or ()), description=c.get("description"), location=value_location(checks, i),
            eventually=Eventually(**_floats(ev, "timeout", "interval")) if ev else None))
    lg = tree.get("logs") or PosDict()
    logs = _given(LogRules, lg, fail_on=tuple(lg.get("fail_on") or ()), ignore=tuple(lg.get("ignore") or ()),
                  **_ints(lg, "max_findings"),
                  location=value_location(tree, "logs") if "logs" in tree else None)
    sv = tree.get("server")
    server = None
    if sv:
        cmd = sv["command"]
        server = _given(ServerSpec, sv, command=tuple(cmd) if isinstance(cmd, list) else str(cmd),
                        env={str(k): _text(v) for k, v in (sv.get("env") or {}).items()},
                        location=value_location(tree, "server"), **_floats(sv, "ready_timeout", "grace"))
    return Contract(name=tree["contract"], source=source, target=target, version=tree.get("version", 1),
                    description=tree.get("description", ""), health=health, load=load, settle=settle,
                    endpoints=endpoints, checks=tuple(built), logs=logs, server=server)


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


#: Authorization schemes: 'Bearer ' with an empty key is no secret (and redacting it would mangle output).
_AUTH_SCHEMES = ("bearer", "basic", "token", "digest", "apikey")


def _header_secrets(headers: Mapping[str, str]) -> set[str]:
    out = set()
    for value in map(str.strip, headers.values()):
        scheme, _, credential = value.partition(" ")
        if credential.strip():
            out |= {value, credential.strip()}
        elif value and value.lower() not in _AUTH_SCHEMES:
            out.add(value)
    return out


# --- the loader -----------------------------------------------------------------------------------

def resolve_ref(ref: str | os.PathLike) -> Path:
    """The contract file REF names: a path, or a shipped contract's name such as fakeai-final."""
    path = Path(ref)
    if path.is_file():
        return path
    text = str(ref)
    if "/" not in text and os.sep not in text:
        shipped = resources.shipped_contract(text)
        if shipped is not None:
            return shipped
    if path.is_dir():
        raise ContractError(f"{text} is a folder, not a contract file", fix="name a .yaml file in it")
    hint = did_you_mean(path.stem, resources.shipped_contract_names())
    raise ContractError(f"no contract file {text!r}" + (f"; did you mean {hint!r}?" if hint else ""),
                        fix="name a contract file, or a shipped contract: "
                            + (", ".join(resources.shipped_contract_names()) or "none"))


def _raise(errors: list[ContractError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ContractErrors(errors[:MAX_ERRORS])


def _load(path: Path, overrides: Mapping[str, Any], env: Mapping[str, str]) -> Contract:
    merged = load_tree(path)
    _raise(validate_shape(merged.tree, resolved=False))
    declared = merged.tree.get("vars") or PosDict()
    resolver = Resolver(declared, overrides, env)
    tree = resolve_tree(merged.tree, resolver)
    variables = resolve_vars(resolver)
    coerce_variables(tree)
    _raise(validate_shape(tree, resolved=True))
    folders = [f.absolute().parent for f in (path, *reversed(merged.files))] + [resources.schemas_dir()]
    schema_dirs = tuple(dict.fromkeys(folders))
    store = SchemaStore(schema_dirs)
    _raise(semantic_errors(tree, store, removed={r.name: r for r in merged.removals if r.kind == "endpoint"},
                           variables=[*declared, *overrides]))
    contract = build(tree, path)
    from fakeai_contract.target import url_passwords

    headers = [contract.target.headers, *(m.headers for m in contract.load.mix)]
    secrets = frozenset(resolver.secrets() | set().union(*map(_header_secrets, headers))
                        | url_passwords(contract.target.base_url))
    return dataclasses.replace(contract, vars=plain(variables), secrets=secrets, schema_dirs=schema_dirs,
                               files=merged.files, removed=merged.removals, schema_store=store)


def _source_line(loc: Location | None, cache: dict[str, list[str]]) -> str | None:
    if loc is None or not loc.line:
        return None
    if loc.file not in cache:
        try:
            with open(loc.file, "rb") as fh:
                cache[loc.file] = fh.read(2 * 1024 * 1024).decode("utf-8", "replace").splitlines()
        except OSError:
            cache[loc.file] = []
    lines = cache[loc.file]
    if not 0 < loc.line <= len(lines):
        return None
    line = lines[loc.line - 1]
    return line if len(line) <= 200 else line[:197] + "..."


def _with_source(err: ContractError) -> ContractError:
    cache: dict[str, list[str]] = {}
    for e in [*getattr(err, "errors", ()), err]:
        if e.source_line is None:
            e.source_line = _source_line(e.location, cache)
    return err


def load_contract(ref: str | os.PathLike, *, overrides: Mapping[str, Any] | None = None,
                  env: Mapping[str, str] | None = None) -> Contract:
    """Load, merge, resolve and validate a contract; every problem is a ContractError."""
    try:
        path = resolve_ref(ref)
        return _load(path, overrides or {}, os.environ if env is None else env)
    except ContractError as exc:
        raise _with_source(exc) from None
    except RecursionError:
        raise ContractError(f"{ref}: the contract is nested too deeply", fix="flatten it") from None
    except (OSError, yaml.YAMLError, UnicodeError, OverflowError) as exc:
        raise ContractError(f"{ref}: cannot load the contract: {exc}") from None
