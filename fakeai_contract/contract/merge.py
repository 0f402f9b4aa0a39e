"""`extends`: load a contract's bases, in order, and deep-merge them under it, positions kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakeai_contract import resources
from fakeai_contract.errors import ContractError, Location, did_you_mean
from fakeai_contract.contract.positions import PosDict, PosList, key_location, load_file, value_location
from fakeai_contract.model import Removal

MAX_DEPTH = 16
#: Lists that accumulate across extends; an entry whose name matches an inherited one replaces it.
APPENDED_LISTS = {("checks",), ("load", "mix")}
#: What an overlay can remove: `NAME: null` in these mappings, `remove: true` in these lists.
REMOVABLE_KEYS = {("endpoints",): "endpoint"}
REMOVABLE_ITEMS = {("checks",): "check", ("load", "mix"): "mix entry"}
_REMOVAL_PLACES = (*REMOVABLE_KEYS, *REMOVABLE_ITEMS)
_PLURALS = {"mix entry": "mix entries"}
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Merged:
    """A contract tree with its bases merged in, every file read (bases first, root last), and what
    the overlays removed."""

    tree: PosDict
    files: tuple[Path, ...]
    removals: tuple[Removal, ...] = ()


def _leads_to_removal(path: tuple[str, ...]) -> bool:
    return any(place[:len(path)] == path for place in _REMOVAL_PLACES)


def _empty_like(value: Any) -> Any:
    return PosDict() if isinstance(value, PosDict) else PosList() if isinstance(value, PosList) else None


def merge(base: Any, over: Any, path: tuple[str, ...] = (), removals: list[Removal] | None = None) -> Any:
    """OVER deep-merged onto BASE: mappings merge (OVER wins), appended lists append, others replace;
    `NAME: null` in endpoints and `remove: true` in checks and load.mix drop the inherited item."""
    removals = [] if removals is None else removals
    if isinstance(base, PosDict) and isinstance(over, PosDict):
        out = PosDict(base, loc=over.loc)
        out.key_locs, out.value_locs = dict(base.key_locs), dict(base.value_locs)
        kind = REMOVABLE_KEYS.get(path)
        for key, value in over.items():
            if kind is not None and value is None:
                _remove_key(out, base, over, key, kind, path, removals)
                continue
            sub = path + (key,)
            if key in base:
                out[key] = merge(base[key], value, sub, removals)
            elif _leads_to_removal(sub) and _empty_like(value) is not None:
                out[key] = merge(_empty_like(value), value, sub, removals)
            else:
                out[key] = value
            out.key_locs[key] = over.key_locs.get(key)
            out.value_locs[key] = over.value_locs.get(key)
        return out
    if path in APPENDED_LISTS and isinstance(base, PosList) and isinstance(over, PosList):
        return _append_by_name(base, over, path, removals)
    return over


def _where(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _remove_key(out: PosDict, base: PosDict, over: PosDict, key: str, kind: str, path: tuple[str, ...],
                removals: list[Removal]) -> None:
    loc = value_location(over, key) or key_location(over, key)
    if key not in base:
        raise _nothing_to_remove(kind, key, list(base), f"{_where(path)}.{key}: null", loc)
    removals.append(Removal(kind, key, loc, value_location(base, key)))
    del out[key]
    out.key_locs.pop(key, None)
    out.value_locs.pop(key, None)


def _nothing_to_remove(kind: str, name: str, inherited: list[str], written: str,
                       loc: Location | None) -> ContractError:
    hint = did_you_mean(name, inherited)
    if hint:
        fix = f"write {hint!r} instead"
    elif inherited:
        fix = f"name one of the inherited {_PLURALS.get(kind, kind + 's')}: {', '.join(map(repr, inherited))}"
    else:
        fix = f"remove this line; {written} only removes what a contract named in extends defines"
    return ContractError(f"{written} removes the {kind} {name!r}, but no base contract defines it"
                         + (f"; did you mean {hint!r}?" if hint else ""), loc, fix=fix)


def _name_of(item: Any) -> Any:
    return item.get("name") if isinstance(item, PosDict) else None


def _is_removal(item: Any) -> bool:
    return isinstance(item, PosDict) and item.get("remove") is True


def _append_by_name(base: PosList, over: PosList, path: tuple[str, ...], removals: list[Removal]) -> PosList:
    out = PosList(base, loc=over.loc)
    out.item_locs = list(base.item_locs)
    index = {_name_of(item): i for i, item in enumerate(out) if isinstance(_name_of(item), str)}
    inherited = list(index)
    dropped: set[int] = set()
    for i, item in enumerate(over):
        name = _name_of(item)
        if _is_removal(item):
            kind = REMOVABLE_ITEMS[path]
            loc = over.item_locs[i]
            extra = sorted(k for k in item if k not in ("name", "remove"))
            if extra:
                raise ContractError(f"{_where(path)}[{i}]: a {kind} with remove: true names only what it removes, "
                                    f"but it also sets {', '.join(extra)}", loc,
                                    fix=f"keep only name: and remove: true, or drop remove: to replace the {kind}")
            if not isinstance(name, str) or name not in index or index[name] in dropped:
                raise _nothing_to_remove(kind, str(name), [n for n in inherited if index[n] not in dropped],
                                         f"{_where(path)}[{i}] ({name!r}, remove: true)", loc)
            removals.append(Removal(kind, name, loc, out.item_locs[index[name]]))
            dropped.add(index[name])
        elif isinstance(name, str) and name in index:
            out[index[name]] = item
            out.item_locs[index[name]] = over.item_locs[i]
            dropped.discard(index[name])
        else:
            if isinstance(name, str):
                index[name] = len(out)
            out.append(item)
            out.item_locs.append(over.item_locs[i])
    kept = PosList([v for j, v in enumerate(out) if j not in dropped], loc=out.loc)
    kept.item_locs = [loc for j, loc in enumerate(out.item_locs) if j not in dropped]
    return kept


def _display(path: Path) -> str:
    return path.name


def resolve_base(entry: str, folder: Path, loc: Location | None) -> Path:
    """The file an `extends` entry names: relative to FOLDER, or a shipped contract's name."""
    if not isinstance(entry, str) or not entry.strip():
        raise ContractError(f"an extends entry must be a file name, got {entry!r}", loc,
                            fix="write extends: [base.yaml]")
    candidate = folder / entry
    if candidate.is_file() and candidate.suffix in _SUFFIXES:
        return candidate
    if "/" not in entry and "\\" not in entry:
        shipped = resources.shipped_contract(entry)
        if shipped is not None:
            return shipped
    if candidate.is_file():
        raise ContractError(f"extends names {entry!r}, which is not a .yaml or .yml file", loc,
                            fix="extend contract files only")
    choices = [p.name for p in folder.glob("*.y*ml")] + resources.shipped_contract_names()
    hint = did_you_mean(entry, choices)
    raise ContractError(f"extends names {entry!r}, which does not exist (looked in {folder} and "
                        "the shipped contracts)" + (f"; did you mean {hint!r}?" if hint else ""), loc,
                        fix="write a path relative to this contract, or a shipped contract's name "
                            f"({', '.join(resources.shipped_contract_names()) or 'none'})")


def _extends_entries(tree: PosDict) -> list[tuple[str, Location | None]]:
    raw = tree.get("extends")
    if raw is None:
        return []
    if isinstance(raw, str):
        return [(raw, value_location(tree, "extends"))]
    if isinstance(raw, PosList):
        return [(item, value_location(raw, i)) for i, item in enumerate(raw)]
    raise ContractError(f"extends must be a list of contract files, got {raw!r}",
                        value_location(tree, "extends"), fix="write extends: [base.yaml]")


def load_tree(path: Path, chain: tuple[Path, ...] = ()) -> Merged:
    """PATH's tree with its extends chain merged in (cycles and over-deep chains are errors)."""
    resolved = path.resolve()
    if resolved in chain:
        names = " → ".join(_display(p) for p in chain[chain.index(resolved):] + (resolved,))
        raise ContractError(f"extends cycle: {names}", Location(str(path)),
                            fix="remove one of the extends entries in the cycle")
    if len(chain) >= MAX_DEPTH:
        raise ContractError(f"extends chain deeper than {MAX_DEPTH} files", Location(str(path)),
                            fix="flatten the chain of bases")
    tree = load_file(path)
    if not isinstance(tree, PosDict):
        kind = "empty" if tree is None else "a list" if isinstance(tree, PosList) else f"the value {tree!r:.40}"
        raise ContractError(f"a contract must be a mapping of keys (contract, target, checks, ...), "
                            f"but {path.name} is {kind}", getattr(tree, "loc", None) or Location(str(path), 1),
                            fix="start the file with 'contract: NAME' and 'target: {base_url: ...}'")
    merged_base: PosDict | None = None
    files: list[Path] = []
    removals: list[Removal] = []
    for entry, loc in _extends_entries(tree):
        base_path = resolve_base(entry, path.parent, loc)
        try:
            base = load_tree(base_path, chain + (resolved,))
        except ContractError as exc:
            if exc.message.startswith("extends cycle") and exc.location == Location(str(base_path)):
                exc.location = loc      # point at the extends entry that closes the cycle
            raise
        merged_base = base.tree if merged_base is None else merge(merged_base, base.tree, removals=removals)
        files += [f for f in base.files if f not in files]
        removals += [r for r in base.removals if r not in removals]
    own = PosDict({k: v for k, v in tree.items() if k != "extends"}, loc=tree.loc)
    own.key_locs = {k: v for k, v in tree.key_locs.items() if k != "extends"}
    own.value_locs = {k: v for k, v in tree.value_locs.items() if k != "extends"}
    # An empty base still walks the file, so a removal with nothing to remove is reported.
    result = merge(PosDict() if merged_base is None else merged_base, own, removals=removals)
    return Merged(result, tuple(files) + (path,), tuple(removals))
