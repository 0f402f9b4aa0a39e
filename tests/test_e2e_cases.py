"""End-to-end cases as data: each folder of tests/e2e runs the real CLI (in-process) against a real
server on 127.0.0.1 and holds the exit code and the ledger facts it must produce.

A case is `tests/e2e/<name>/case.yaml` (its first line, a comment, says what it shows):

    contract: ../../data/contracts/hardening/small.yaml   # a file beside case.yaml, or a shipped name
    args: [--set, REQUEST_TIMEOUT=1]                       # more arguments for `run`
    server: {misbehaving: MODE}                            # tests/misbehaving_server.py, optionally
                                                           #   with redirect_to: {misbehaving: MODE}
                                                           #   and instance: NAME (a server of its own)
          | {reference: [--OPTION=VALUE]}                   # the reference server, a process of its own
          | {none: true}                                   # a port nobody listens on
    exit: 1                                                # the exit code, also the ledger's
    entries: {ID: [STATUS, FRAGMENT, ...]}                 # each fragment is in the normalised message
    may_fail: [ID or glob]                                 # besides `entries`, nothing else may fail
    facts: [[JMESPATH over the ledger, OP, VALUE]]         # OP: == != < <= > >= between contains
    served: {requests: N, seen: [PATH], not_seen: [PATH]}  # what this run asked the server
    served_elsewhere: {seen: [PATH]}                       # what the redirect target was asked
    reports: {FORMAT: [FRAGMENT]}                          # another report written by the same run
    max_seconds: 15                                        # the run's wall-clock bound
    timing: true                                           # its facts read a clock: it runs alone

Servers are started once per distinct `server` spec for the whole module (cases run in order and
read only what their own run did), stopped at the end. Messages are normalised (ports, measured
durations, timestamps, paths) before fragments are looked up, so a fragment may say <PORT>.
"""

from __future__ import annotations

import fnmatch
import json
import re
import time
from pathlib import Path
from typing import Any, Callable

import jmespath
import jsonschema
import pytest
import yaml

from fakeai_contract.lifecycle import free_port
from fakeai_contract.reference import spawn_reference
from fakeai_contract.resources import schemas_dir
from tests.helpers import run_cli
from tests.misbehaving_server import MODES, MisbehavingServer

ROOT = Path(__file__).resolve().parent.parent
CASES_DIR = Path(__file__).parent / "e2e"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.yaml").is_file())
TRACEBACK = "Traceback (most recent call last)"
CASE_KEYS = {"contract", "args", "server", "exit", "entries", "may_fail", "facts", "served", "served_elsewhere",
             "reports", "max_seconds", "timing"}
STATUSES = ("pass", "fail", "error", "warn", "skip")

#: fact operator → test of (actual, expected)
FACT_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, e: a == e, "!=": lambda a, e: a != e,
    "<": lambda a, e: a < e, "<=": lambda a, e: a <= e, ">": lambda a, e: a > e, ">=": lambda a, e: a >= e,
    "between": lambda a, e: e[0] <= a <= e[1], "contains": lambda a, e: e in a,
}


class Normaliser:
    """Rewrites what differs between runs into placeholders: ports, measured durations, times, paths."""

    def __init__(self, *paths: tuple[Path, str]):
        self._paths = [(str(path), name) for path, name in paths]

    def __call__(self, text: str) -> str:
        for path, name in self._paths:
            text = text.replace(path, name)
        text = re.sub(r"(127\.0\.0\.1|localhost)(:|', )\d{2,5}", r"\1\2<PORT>", text)
        text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?", "<TIME>", text)
        return re.sub(r"\b\d+\.\d+ ?(s|ms)\b", "<DURATION>", text)


class Servers:
    """The servers the cases run against, one per distinct spec, started on first use."""

    def __init__(self):
        self._started: dict[str, Any] = {}

    def get(self, spec: dict) -> Any:
        key = json.dumps(spec, sort_keys=True)
        if key not in self._started:
            self._started[key] = self._start(spec)
        return self._started[key]

    def _start(self, spec: dict) -> Any:
        if "misbehaving" in spec:
            assert spec["misbehaving"] in MODES, spec
            server = MisbehavingServer(spec["misbehaving"]).start()
            if "redirect_to" in spec:
                server.redirect_to = self.get(spec["redirect_to"]).url
            return server
        if "reference" in spec:
            # a process of its own: in this one it would share the interpreter with the client, and
            # the checks that hold the server's timing against the client's would read that contention
            server = spawn_reference([str(a) for a in spec["reference"]])
            server.url = server.base_url
            return server
        assert {k: v for k, v in spec.items() if k != "instance"} == {"none": True}, spec
        return _Nobody(f"http://127.0.0.1:{free_port()}")

    def stop(self) -> None:
        for server in self._started.values():
            server.stop()


class _Nobody:
    """A URL nothing listens on."""

    def __init__(self, url: str):
        self.url = url

    def stop(self) -> None:
        pass


class _Seen:
    """What a misbehaving server was asked from now on."""

    def __init__(self, server: Any):
        self.server = server
        self.paths_before = len(getattr(server, "seen_paths", ()))
        self.requests_before = server.counters.requests if hasattr(server, "counters") else 0

    def paths(self) -> list[str]:
        return [p.split(" ", 1)[1].split("?", 1)[0] for p in self.server.seen_paths[self.paths_before:]]

    def requests(self) -> int:
        return self.server.counters.requests - self.requests_before


@pytest.fixture(scope="module")
def servers():
    pool = Servers()
    yield pool
    pool.stop()


@pytest.fixture(scope="module")
def ledger_schema() -> dict:
    return json.loads((schemas_dir() / "ledger.schema.json").read_text())


def _contract(folder: Path, ref: str) -> str:
    beside = folder / ref
    return str(beside.resolve()) if beside.is_file() else ref


@pytest.mark.timeout(90)
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.timing) if yaml.safe_load((CASES_DIR / n / "case.yaml").read_text()).get("timing")
    else n for n in CASES])
def test_case(name, servers, ledger_schema, tmp_path, monkeypatch):
    folder = CASES_DIR / name
    case = yaml.safe_load((folder / "case.yaml").read_text())
    assert set(case) <= CASE_KEYS, set(case) - CASE_KEYS
    server = servers.get(case["server"])
    elsewhere = servers.get(case["server"]["redirect_to"]) if "redirect_to" in case["server"] else None
    seen, seen_elsewhere = _Seen(server), elsewhere and _Seen(elsewhere)
    reports = {fmt: tmp_path / f"report.{fmt}" for fmt in case.get("reports", {})}
    argv = ["run", _contract(folder, case["contract"]), "--base-url", server.url, "--report", "json:-",
            "--no-color", *map(str, case.get("args", [])), *[f"--report={f}:{p}" for f, p in reports.items()]]
    monkeypatch.chdir(tmp_path)
    t0 = time.monotonic()
    result = run_cli(*argv)
    elapsed = time.monotonic() - t0
    normal = Normaliser((tmp_path, "<TMP>"), (ROOT, "<ROOT>"))

    assert TRACEBACK not in result.out + result.err, result.err[-3000:]
    assert "this is a bug in fakeai-contract" not in result.err
    assert elapsed < case.get("max_seconds", 15), f"the run took {elapsed:.1f}s"
    ledger = result.ledger
    jsonschema.validate(ledger, ledger_schema)
    entries = {e["id"]: e for e in ledger["entries"]}
    shown = {i: f"{e['status']}: {normal(e['message'])}" for i, e in entries.items()}
    assert result.code == case["exit"], shown
    assert ledger["summary"]["exit_code"] == case["exit"] and ledger["interrupted"] is False

    for entry_id, (status, *fragments) in case.get("entries", {}).items():
        assert status in STATUSES, (entry_id, status)
        assert entry_id in entries, sorted(entries)
        entry = entries[entry_id]
        assert entry["status"] == status, (entry_id, shown[entry_id])
        for fragment in fragments:
            assert fragment in normal(entry["message"]), (entry_id, fragment, shown[entry_id])
    allowed = [*case.get("entries", {}), *case.get("may_fail", [])]
    unexpected = {i: shown[i] for i, e in entries.items()
                  if e["status"] in ("fail", "error") and not any(fnmatch.fnmatchcase(i, p) for p in allowed)}
    assert not unexpected, unexpected

    for path, op, expected in case.get("facts", []):
        actual = jmespath.search(path, ledger)
        assert actual is not None and FACT_OPS[op](actual, expected), (path, actual, op, expected)

    _assert_served(case.get("served", {}), seen)
    if "served_elsewhere" in case:
        _assert_served(case["served_elsewhere"], seen_elsewhere)
    for fmt, fragments in case.get("reports", {}).items():
        text = reports[fmt].read_text()
        assert TRACEBACK not in text
        for fragment in fragments:
            assert fragment in text, (fmt, fragment)


def _assert_served(expected: dict, seen: _Seen) -> None:
    if "requests" in expected:
        assert seen.requests() == expected["requests"]
    paths = seen.paths() if {"seen", "not_seen"} & set(expected) else []
    for path in expected.get("seen", []):
        assert path in paths, (path, paths)
    for path in expected.get("not_seen", []):
        assert path not in paths, (path, paths)


def test_the_cases_cover_every_misbehaving_mode():
    used = {yaml.safe_load((CASES_DIR / n / "case.yaml").read_text())["server"].get("misbehaving") for n in CASES}
    assert set(MODES) <= used, sorted(set(MODES) - used)
    assert len(CASES) >= 15


def test_the_normaliser_hides_what_differs_between_runs(tmp_path):
    normal = Normaliser((tmp_path, "<TMP>"), (ROOT, "<ROOT>"))
    text = (f"cannot connect: Connect call failed ('127.0.0.1', 41234); http://127.0.0.1:8765/health; "
            f"not healthy within 2s (4 attempts in 2.03s, 12.5 ms); at 2026-12-05T09:41:03.123+00:00; "
            f"wrote {tmp_path}/r.json from {ROOT}/contracts/fakeai-final.yaml")
    assert normal(text) == ("cannot connect: Connect call failed ('127.0.0.1', <PORT>); http://127.0.0.1:<PORT>/health; "
                            "not healthy within 2s (4 attempts in <DURATION>, <DURATION>); at <TIME>; "
                            "wrote <TMP>/r.json from <ROOT>/contracts/fakeai-final.yaml")
