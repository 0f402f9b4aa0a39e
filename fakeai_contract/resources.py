"""Where the shipped contracts and schemas are, from a checkout or from an installed wheel."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    checkout = _CHECKOUT / name
    if checkout.is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
        return checkout
    return Path(str(resources.files(f"fakeai_contract.{name}")))


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
