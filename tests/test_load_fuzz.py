"""Whatever the file holds, the loader answers with a Contract or a ContractError, never a crash."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeai_contract import resources
from fakeai_contract.errors import ContractError
from fakeai_contract.contract import load_contract

SHIPPED = yaml.safe_load(resources.shipped_contract("fakeai-final").read_text(encoding="utf-8"))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
    | st.sampled_from(["${X}", "${X:-1}", "$${y}", "${", "metrics.x", "sbu(`1`)", "(", "5%", "-1%"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(SHIPPED) if p]


def _load_text(text: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            return load_contract(path, env={})
        except ContractError as exc:
            rendered = exc.render()
            assert rendered.startswith("error: ")
            return exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_any_value_anywhere_in_the_shipped_contract(path, value):
    doc = copy.deepcopy(SHIPPED)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    _load_text(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="contrag:ex{}[]-,'\"!&*#|>%@`\t\n 0123456789.$~", max_size=120))
def test_arbitrary_text(text):
    _load_text(text)
