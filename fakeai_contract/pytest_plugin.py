"""pytest plugin: `pytest --contract PATH` (or collected `*.contract.yaml` files) runs a contract and
turns every ledger entry into a test item, so -k, --junitxml and pytest's reporting work on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fakeai-contract")
    group.addoption("--contract", action="append", default=[], metavar="PATH",
                    help="run this fakeai-contract contract (a file or a shipped name such as "
                         "fakeai-final); every ledger entry becomes a test")
    group.addoption("--contract-base-url", default=None, metavar="URL",
                    help="the server the contracts run against (default: the contract's target)")
    group.addoption("--contract-serve-reference", action="store_true",
                    help="start the bundled reference server for the contracts")
    group.addoption("--contract-arg", action="append", default=[], metavar="ARG",
                    help="an extra `fakeai-contract run` argument, e.g. --contract-arg=--set=X=1")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name.endswith(".contract.yaml"):
        return ContractFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    from fakeai_contract.contract.build import resolve_ref
    from fakeai_contract.errors import ContractError

    for ref in config.getoption("contract") or []:
        try:
            path = resolve_ref(ref)         # a file, or a shipped contract's name
        except ContractError as exc:
            raise pytest.UsageError(f"--contract {ref}: {exc.render()}") from None
        node = ContractFile.from_parent(session, path=Path(path).resolve())
        items.extend(node.collect())


def _run(config: pytest.Config, path: Path) -> dict:
    """Run the contract through the CLI in-process; return the ledger document."""
    import io

    from fakeai_contract import exit_codes
    from fakeai_contract.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = ["run", str(path), "--report", "json:-", "--quiet", "--no-color"]
    if config.getoption("contract_serve_reference"):
        argv.append("--serve-reference")
    elif config.getoption("contract_base_url"):
        argv += ["--base-url", config.getoption("contract_base_url")]
    argv += config.getoption("contract_arg") or []
    code = main(argv, out, err)
    if code == exit_codes.INVALID or not out.getvalue().strip():
        raise pytest.UsageError(f"fakeai-contract could not run {path}:\n{err.getvalue()}")
    return json.loads(out.getvalue())


class ContractFile(pytest.File):
    """A contract file: running it yields one item per ledger entry."""

    def collect(self):
        ledger = _run(self.config, self.path)
        for entry in ledger["entries"]:
            yield LedgerItem.from_parent(self, name=entry["id"], entry=entry)


class LedgerFailure(Exception):
    """A ledger entry that did not pass."""


class LedgerItem(pytest.Item):
    """One ledger entry as a test: pass, fail (fail or error) or skip."""

    def __init__(self, *, entry: dict, **kw):
        super().__init__(**kw)
        self.entry = entry
        for tag in entry.get("tags", []):
            marker = tag.replace("-", "_")
            # Registered first, so a ledger tag is a known mark (no PytestUnknownMarkWarning).
            self.config.addinivalue_line("markers", f"{marker}: fakeai-contract ledger tag {tag!r}")
            self.add_marker(marker)

    def runtest(self) -> None:
        status = self.entry["status"]
        if status == "skip":
            pytest.skip(self.entry.get("message") or "skipped")
        if status in ("fail", "error"):
            raise LedgerFailure(self.entry)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, LedgerFailure):
            e = self.entry
            return (f"{e['status']}: {e['name']}\n  {e.get('message', '')}\n"
                    f"  observed: {json.dumps(e.get('observed'))[:500]}\n"
                    f"  expected: {json.dumps(e.get('expected'))[:500]}")
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.entry['phase']}: {self.entry['name']}"
