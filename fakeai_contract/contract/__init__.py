"""The contract stage: YAML with positions → merged overlays → resolved variables → validated Contract."""

from fakeai_contract.contract.build import load_contract

__all__ = ["load_contract"]
