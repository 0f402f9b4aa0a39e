"""Where the shipped contracts and schemas are, from a checkout or from an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    # An installed wheel carries the folders inside the package (package data); a checkout, and an
    # editable install of it, keeps them at the top of the repository.
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def contracts_dir() -> Path:
    """The folder of shipped contracts."""
    return _shipped("contracts")


def schemas_dir() -> Path:
    """The folder of shipped JSON Schemas."""
    return _shipped("schemas")


def shipped_contract(name: str) -> Path | None:
    """The shipped contract called NAME (with or without .yaml), or None."""
    stem = name[:-5] if name.endswith(".yaml") else name
    path = contracts_dir() / f"{stem}.yaml"
    return path if path.is_file() else None


def shipped_contract_names() -> list[str]:
    """Names of every shipped contract."""
    return sorted(p.stem for p in contracts_dir().glob("*.yaml"))
