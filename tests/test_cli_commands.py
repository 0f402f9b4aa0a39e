"""lint, explain, init, tag selection, the step summary, progress and the pytest plugin (issue 6)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakeai_contract.resources import contracts_dir, shipped_contract_names
from fakeai_contract.commands.run import _Progress
from tests.helpers import FOREIGN_PLUGINS, poll

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("FAKEAI_HOST", "FAKEAI_PORT", "EXPLAIN_TEST_API_KEY", "FAKEAI_API_KEY", "FAKEAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_explain_matches_the_expected_output_of_a_three_level_chain(cli, clean_env):
    r = cli("explain", str(DATA / "explain/chain/child.yaml"))
    assert r.code == 0, r.err
    assert r.out == (DATA / "explain/chain/expected.txt").read_text()
    assert "sk-explain-secret-123" not in r.out


def test_explain_resolves_set_overrides(cli, clean_env):
    r = cli("explain", str(DATA / "explain/chain/child.yaml"), "--set", "FAKEAI_PORT=9999")
    assert "target: http://127.0.0.1:9999" in r.out


MEASURE = DATA / "contracts" / "measure"


def _load_lines(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("load: "))
    return [lines[start]] + [line for line in lines[start + 1:] if line.startswith("  ")][:4]


def test_explain_says_a_rate_duration_run_lasts_a_time_at_a_rate(cli, clean_env):
    r = cli("explain", str(MEASURE / "paced.yaml"), "--set", "DURATION=2.5", "--set", "RATE=40",
            "--set", "ARRIVAL=poisson")
    assert r.code == 0, r.err
    head, plain, stream = _load_lines(r.out)[:3]
    assert head == ("load: POST /v1/chat/completions for 2.5s (about 100 requests), at 40 requests/s "
                    "(poisson arrivals, seed 0), at most 64 in flight; the mix is cycled")
    assert plain == "  mix plain: 1 in every 2 requests, non-streaming, to gpt-4, gpt-3.5-turbo in turn"
    assert stream.startswith("  mix stream: 1 in every 2 requests, streaming")
    assert "model  non-streaming" not in r.out      # no per-model totals: a duration run has none


def test_explain_says_a_concurrency_duration_run_lasts_a_time_with_workers(cli, clean_env):
    r = cli("explain", str(MEASURE / "closed.yaml"), "--set", "CONCURRENCY=8", "--set", "DURATION=30")
    head, mix = _load_lines(r.out)[:2]
    assert head == ("load: POST /v1/chat/completions for 30s, as many requests as that allows, "
                    "concurrency 8; the mix is cycled")
    assert mix == "  mix plain: every request, non-streaming, to gpt-4"
    assert " 1 requests" not in r.out


def test_explain_gives_a_counted_open_loop_its_count_and_rate(cli, clean_env, tmp_path):
    text = (MEASURE / "paced.yaml").read_text().replace("  duration: ${DURATION:-1}\n", "")
    counted = tmp_path / "counted.yaml"
    counted.write_text(text)
    r = cli("explain", str(counted), "--set", "RATE=25")
    assert r.code == 0, r.err
    assert _load_lines(r.out)[0] == ("load: 2 requests to POST /v1/chat/completions, at 25 requests/s "
                                     "(constant arrivals), at most 64 in flight")


def test_lint_accepts_every_shipped_contract(cli):
    names = shipped_contract_names()
    assert {"fakeai-final", "fakeai-strict", "fakeai-base", "fakeai-event-flow", "fakeai-error-metrics",
            "fakeai-streaming-metrics"} <= set(names)
    r = cli("lint", *[str(contracts_dir() / f"{n}.yaml") for n in names])
    assert r.code == 0, r.err
    assert r.out.count("ok: ") == len(names)


def test_lint_reports_every_bad_contract_and_exits_2(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("contract: x\nversion: 1\ntarget: {base_url: http://x}\nchecks:\n  - {name: a, that: metrics.x, gt: 0}\n")
    r = cli("lint", str(contracts_dir() / "fakeai-final.yaml"), str(bad))
    assert r.code == 2
    assert "ok: " in r.out and "bad.yaml:5" in r.err and "Traceback" not in r.err


def test_init_scaffolds_a_contract_that_lints_and_refuses_to_overwrite(cli, tmp_path):
    target = tmp_path / "mine"
    r = cli("init", str(target))
    assert r.code == 0, r.err
    assert (target / "contract.yaml").exists() and (target / "metrics.schema.json").exists()
    # the editor hint names the copy beside the contract, so the folder can be shared as it is
    assert (target / "contract.yaml").read_text().startswith("# yaml-language-server: $schema=contract.schema.json\n")
    assert json.loads((target / "contract.schema.json").read_text())["$schema"].startswith("https://json-schema.org/")
    assert cli("lint", str(target / "contract.yaml")).code == 0
    again = cli("init", str(target))
    assert again.code == 2 and "already exists" in again.err


def test_init_contract_runs_against_the_reference_server(cli, tmp_path):
    cli("init", str(tmp_path / "c"))
    r = cli("run", str(tmp_path / "c" / "contract.yaml"), "--serve-reference", "--report", "json:-")
    assert r.code == 0, [e for e in r.ledger["entries"] if e["status"] not in ("pass", "skip")]


def test_only_and_skip_select_checks_by_tag_and_record_skips(cli):
    r = cli("run", "--serve-reference", "--only", "consistency", "--report", "json:-")
    assert r.code == 0
    checks = [e for e in r.ledger["entries"] if e["id"].startswith("check/") and "response" not in e["tags"]]
    ran = {e["id"] for e in checks if e["status"] != "skip"}
    assert len(ran) == 4 and all("consistency" in e["tags"] for e in checks if e["status"] != "skip")
    skipped = [e for e in checks if e["status"] == "skip"]
    assert len(skipped) == 15 and all("deselected by tag" in e["message"] for e in skipped)
    r2 = cli("run", "--serve-reference", "--skip", "field", "--report", "json:-")
    assert sum(1 for e in r2.ledger["entries"] if e["status"] == "skip" and "field" in e["tags"]) == 15


def test_markdown_goes_to_the_github_step_summary(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = cli("run", "--serve-reference", "--quiet")
    assert r.code == 0
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "PASS" in text and "|" in text


def test_several_reports_in_one_run_agree(cli, tmp_path):
    from junitparser import JUnitXml
    from tap.parser import Parser

    r = cli("run", "--serve-reference", "--reference-arg=--error-rate=0.3", "--reference-arg=--seed=5",
            "--report", f"json:{tmp_path}/l.json", "--report", f"junit:{tmp_path}/j.xml",
            "--report", f"tap:{tmp_path}/t.tap", "--report", f"markdown:{tmp_path}/m.md")
    assert r.code == 1
    summary = json.loads((tmp_path / "l.json").read_text())["summary"]
    xml = JUnitXml.fromfile(str(tmp_path / "j.xml"))
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        summary["total"], summary["failed"], summary["errors"], summary["skipped"])
    lines = [l for l in Parser().parse_text((tmp_path / "t.tap").read_text()) if l.category == "test"]
    assert len(lines) == summary["total"]
    assert sum(1 for l in lines if not l.ok) == summary["failed"] + summary["errors"]
    assert sum(1 for l in lines if l.skip) == summary["skipped"]
    assert summary["verdict"] in (Path(tmp_path / "m.md").read_text())


def test_progress_line_only_on_a_tty():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, plain = Tty(), io.StringIO()
    for stream in (tty, plain):
        p = _Progress(stream, live=stream.isatty(), periodic=True)
        p("request", {"done": 20, "of": 20, "failed": 1, "elapsed_s": 1.5})
        p.clear()
    assert "20/20 done, 1 failed" in tty.getvalue() and plain.getvalue() == ""


def test_the_load_line_adds_up_the_workers_and_gives_a_duration_run_its_length():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    p = _Progress(tty, live=True, periodic=True)
    p("request", {"done": 120, "of": 400, "failed": 1, "elapsed_s": 0.6, "workers": 2})
    assert "load: 120/400 done, 1 failed, 0.6s (2 workers)" in tty.getvalue()
    p("phase", {"name": "load", "duration_s": 10.0})
    # the live line is redrawn at most every 0.1 s: report until the redraw shows it
    poll(lambda: p("request", {"done": 300, "of": 0, "failed": 0, "elapsed_s": 2.0, "workers": 2})
         or "load: 300 done, 0 failed, 2.0s of 10s (2 workers)" in tty.getvalue(), 2, interval=0.02,
         what="the live line to be redrawn")


def test_off_a_tty_the_load_prints_a_line_every_few_seconds():
    plain = io.StringIO()
    p = _Progress(plain, live=False, periodic=True)
    p("phase", {"name": "load", "duration_s": 30.0})
    for done, elapsed in ((10, 1.0), (40, 4.9), (52, 5.1), (60, 6.0), (101, 10.2), (110, 10.4)):
        p("request", {"done": done, "of": 0, "failed": 0, "elapsed_s": elapsed})
    assert plain.getvalue().splitlines() == ["load: 52 done, 0 failed, 5.1s of 30s",
                                             "load: 101 done, 0 failed, 10.2s of 30s"]


def test_off_a_tty_the_health_wait_prints_a_line_every_few_seconds():
    plain = io.StringIO()
    p = _Progress(plain, live=False, periodic=True)
    wait = {"url": "http://127.0.0.1:9/health", "timeout": 45, "last": "connection refused"}
    for elapsed in (0.5, 1.0, 5.2, 6.0, 10.4):
        p("health", {**wait, "attempts": int(elapsed * 2), "elapsed_s": elapsed})
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in plain.getvalue()
    assert lines[0].startswith("health: waiting for http://127.0.0.1:9/health: 10 attempts, 5.2s of 45s")
    assert "connection refused" in lines[1] and "10.4s" in lines[1]


def _own_ini(folder: Path) -> list[str]:
    """A project's own pytest configuration: the contract path lies in this checkout, whose
    pyproject (several workers) would otherwise configure the inner pytest."""
    (folder / "pytest.ini").write_text("[pytest]\n")
    return ["-c", str(folder / "pytest.ini")]


def test_pytest_plugin_turns_ledger_entries_into_tests(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *FOREIGN_PLUGINS, *_own_ini(tmp_path), "--contract",
         str(contracts_dir() / "fakeai-final.yaml"), "--contract-serve-reference", "-q", "-rA",
         "--junitxml", str(tmp_path / "j.xml"), "--rootdir", str(tmp_path), "-o", "testpaths="],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "PASSED" in proc.stdout and "check/request-count-consistency" in proc.stdout
    from junitparser import JUnitXml
    xml = JUnitXml.fromfile(str(tmp_path / "j.xml"))
    assert xml.tests >= 46


def test_pytest_plugin_reports_a_broken_server_as_failed_tests(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *FOREIGN_PLUGINS, *_own_ini(tmp_path), "--contract",
         str(contracts_dir() / "fakeai-final.yaml"), "--contract-serve-reference",
         "--contract-arg=--reference-arg=--miscount=5", "-q", "-k", "consistency", "--rootdir", str(tmp_path),
         "-o", "testpaths="], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "1 failed" in proc.stdout and "request-count-consistency" in proc.stdout
