"""Reporters: every format from hand-written ledgers, checked by real consumers of each format."""

from __future__ import annotations

import copy
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from junitparser import Error, Failure, JUnitXml, Skipped
from tap.parser import Parser

from fakeai_contract.ledger import PHASES, Entry, Ledger, Status
from fakeai_contract.redact import redact
from fakeai_contract.report import FORMATS, render

ROOT = Path(__file__).resolve().parent.parent
LEDGERS = ROOT / "tests" / "data" / "ledgers"
SAMPLES = sorted(p.name for p in LEDGERS.glob("*.json"))
SCHEMA = json.loads((ROOT / "schemas" / "ledger.schema.json").read_text())


def load(name: str) -> dict:
    return json.loads((LEDGERS / name).read_text())


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def schema_errors(doc: dict) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator().iter_errors(doc)]


# --- the samples themselves ------------------------------------------------------------------

def test_samples_cover_every_status_and_phase():
    entries = [e for name in SAMPLES for e in load(name)["entries"]]
    assert {e["status"] for e in entries} == {s.value for s in Status}
    assert {e["phase"] for e in entries} == set(PHASES)
    assert {load(n)["summary"]["verdict"] for n in SAMPLES} == {"PASS", "PARTIAL", "FAIL", "INTERRUPTED"}
    assert any(load(n)["interrupted"] for n in SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_summary_matches_what_the_ledger_computes(name):
    doc = load(name)
    healthy = next((e["status"] == "pass" for e in doc["entries"] if e["phase"] == "health"), None)
    ledger = Ledger(doc["contract"], doc["target"], interrupted=doc["interrupted"], healthy=healthy)
    for e in doc["entries"]:
        ledger.add(Entry(**{**e, "status": Status(e["status"]), "tags": tuple(e["tags"])}))
    assert ledger.summary() == doc["summary"]


# --- schema ----------------------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", SAMPLES)
def test_json_output_validates_against_the_ledger_schema(name):
    out = render("json", load(name))
    assert out.endswith("\n")
    doc = json.loads(out)
    assert doc == load(name)
    assert schema_errors(doc) == []


def test_a_real_ledger_document_validates():
    ledger = Ledger("c", "http://127.0.0.1:1")
    assert schema_errors(json.loads(render("json", ledger.to_dict()))) == []
    ledger.record("health", "health", "Server Health Check", Status.PASS, observed={"x": 1},
                  duration_s=0.1, tags=("health",), location="c.yaml:3")
    ledger.record("logs", "logs", "Exception Monitoring", Status.SKIP, message="no log source")
    ledger.finish()
    assert schema_errors(ledger.to_dict()) == []


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d.pop("summary"), "$"),
    (lambda d: d["entries"][0].update(status="passed"), "$.entries[0].status"),
    (lambda d: d["entries"][0].update(phase="warmup"), "$.entries[0].phase"),
    (lambda d: d["entries"][0].pop("tags"), "$.entries[0]"),
    (lambda d: d["summary"].update(verdict="OK"), "$.summary.verdict"),
    (lambda d: d["summary"].update(pass_rate=1.5), "$.summary.pass_rate"),
    (lambda d: d.update(client=[]), "$.client"),
    (lambda d: d.update(started_at="yesterday"), "$.started_at"),
])
def test_schema_rejects_a_wrong_shape(mutate, where):
    doc = load("mixed.json")
    mutate(doc)
    errors = schema_errors(doc)
    assert errors and any(e.startswith(where) for e in errors), errors


def test_json_makes_unserialisable_values_safe():
    doc = load("seed_pass.json")
    doc["entries"][0]["observed"] = {"nan": math.nan, "inf": -math.inf, "set": {3, 1}, "bytes": b"ab",
                                     "obj": object(), 7: (1, 2), "status": Status.WARN}
    out = json.loads(render("json", doc))
    observed = out["entries"][0]["observed"]
    assert observed["nan"] == "NaN" and observed["inf"] == "-Infinity"
    assert observed["set"] == [1, 3] and observed["bytes"] == "ab" and observed["7"] == [1, 2]
    assert observed["status"] == "warn" and observed["obj"].startswith("<object object")


# --- JUnit -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SAMPLES)
def test_junit_counts_equal_the_ledger_summary(name):
    doc = load(name)
    xml = JUnitXml.fromstring(render("junit", doc))
    s = doc["summary"]
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        s["total"], s["failed"], s["errors"], s["skipped"])
    xml.update_statistics()      # recount from the test cases themselves
    assert (xml.tests, xml.failures, xml.errors, xml.skipped) == (
        s["total"], s["failed"], s["errors"], s["skipped"])


def test_junit_has_one_suite_per_phase_in_pipeline_order():
    doc = load("mixed.json")
    xml = JUnitXml.fromstring(render("junit", doc))
    assert [suite.name for suite in xml] == list(PHASES)
    cases = {case.name: (suite.name, case) for suite in xml for case in suite}
    _, request = cases["gpt-3.5-turbo non-streaming #3"]
    assert request.classname == "fakeai-contract.load"
    assert request.time == pytest.approx(0.103)
    failure = request.result[0]
    assert isinstance(failure, Failure) and failure.type == "fail"
    assert failure.message == "HTTP 500: upstream error"
    assert '"http_status": 500' in failure.text and "expected:" in failure.text
    assert isinstance(cases["Prometheus Requests Counted"][1].result[0], Error)
    skipped = cases["ITL p99 bound"][1].result[0]
    assert isinstance(skipped, Skipped) and skipped.message == "deselected by tag"
    warned = cases["SLO Rate Consistency"][1]
    assert warned.is_passed and "warning" in warned.system_out and "0.9" in warned.system_out


def test_junit_is_valid_xml_with_control_characters():
    doc = load("seed_pass.json")
    doc["entries"][1].update(status="fail", name="bad\x00name\x1b[31m", message="boom\x07\x0b\ud800 end",
                             observed="\x01\x02 weird")
    out = render("junit", doc)
    root = ET.fromstring(out.encode("utf-8"))
    failure = root.find(".//failure")
    assert failure.get("message") == "boom end"
    assert root.find(".//testcase[failure]").get("name") == "badname[31m"


# --- TAP -------------------------------------------------------------------------------------

def tap_results(text: str) -> list:
    return [line for line in Parser().parse_text(text) if line.category == "test"]


def yaml_blocks(text: str) -> list[dict]:
    blocks = re.findall(r"^  ---\n(.*?)^  \.\.\.$", text, flags=re.S | re.M)
    return [yaml.safe_load("\n".join(ln[2:] for ln in b.splitlines())) for b in blocks]


@pytest.mark.parametrize("name", SAMPLES)
def test_tap_counts_equal_the_ledger(name):
    doc = load(name)
    text = render("tap", doc)
    assert text.splitlines()[:2] == ["TAP version 14", f"1..{len(doc['entries'])}"]
    results = tap_results(text)
    s = doc["summary"]
    assert len(results) == s["total"]
    assert [r.number for r in results] == list(range(1, s["total"] + 1))
    assert sum(1 for r in results if not r.ok) == s["failed"] + s["errors"]
    assert sum(1 for r in results if r.skip) == s["skipped"]
    assert sum(1 for r in results if r.ok and not r.skip and not r.todo) == s["passed"] + s["warned"]


def test_tap_diagnostics_are_yaml_with_message_observed_expected():
    doc = load("mixed.json")
    text = render("tap", doc)
    blocks = yaml_blocks(text)
    problems = [e for e in doc["entries"] if e["status"] in ("fail", "error", "warn")]
    assert len(blocks) == len(problems)
    for block, entry in zip(blocks, problems):
        assert (block["id"], block["status"], block["message"]) == (entry["id"], entry["status"], entry["message"])
        assert block["observed"] == entry["observed"] and block["expected"] == entry["expected"]
    assert "ok 3 - gpt-4-turbo non-streaming \\#2" in text      # TAP 14's escape, plain ASCII
    assert text.isascii() or all(ord(c) < 0xff00 for c in text)
    assert re.search(r"^ok \d+ - ITL p99 bound # SKIP deselected by tag$", text, flags=re.M)


def test_tap_a_warning_is_ok_with_a_diagnostic():
    text = render("tap", load("partial.json"))
    warned = [r for r in tap_results(text) if r.description.endswith("SLO Rate Consistency")]
    assert len(warned) == 1 and warned[0].ok and not warned[0].todo
    assert any(b["status"] == "warn" for b in yaml_blocks(text))


def test_tap_multiline_and_marker_strings_stay_inside_the_block():
    doc = load("seed_pass.json")
    doc["entries"][0].update(status="fail", message="first\n...\n---\nlast", name="two\nlines # here")
    text = render("tap", doc)
    results = tap_results(text)
    assert len(results) == len(doc["entries"]) and not results[0].ok
    assert "not ok 1 - two lines \\# here" in text.splitlines()
    assert not results[0].skip and not results[0].todo
    assert yaml_blocks(text)[0]["message"] == "first\n...\n---\nlast"


# --- Markdown --------------------------------------------------------------------------------

def table_rows(text: str) -> list[list[str]]:
    rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
    return [re.split(r"(?<!\\)\|", ln.strip())[1:-1] for ln in rows]


def test_markdown_summary_problems_first_then_every_entry():
    doc = load("mixed.json")
    text = render("markdown", doc)
    first = text.splitlines()[2]
    assert "FAIL" in first and "48/59" in first and "9 failed" in first and "2 errors" in first
    head, details = text.split("<details>")
    problems = [r for r in table_rows(head) if r[0].strip() != "Status"]
    assert len(problems) == 12     # 9 failed + 2 errors + 1 warned
    every = [r for r in table_rows(details) if r[0].strip() != "Status"]
    assert len(every) == len(doc["entries"])
    assert details.rstrip().endswith("</details>")
    assert all(len(r) == 6 for r in problems + every)


def test_markdown_escapes_pipes_newlines_and_html():
    doc = load("seed_pass.json")
    doc["entries"][0].update(status="fail", name="a|b", message="line one\nline | two <script>x</script>",
                             observed="x*y*_z_")
    text = render("markdown", doc)
    row = next(r for r in table_rows(text) if "a\\|b" in r[2])
    assert len(row) == 6
    message = row[5].strip()
    assert message == "line one<br>line \\| two &lt;script&gt;x&lt;/script&gt;"
    assert row[3].strip() == "x\\*y\\*\\_z\\_"
    assert "<script>" not in text


def test_markdown_quiet_leaves_out_the_full_table():
    assert "<details>" not in render("markdown", load("mixed.json"), quiet=True)
    assert "Problems" not in render("markdown", load("seed_pass.json"))


# --- every format ----------------------------------------------------------------------------

def test_unknown_format_lists_the_formats():
    with pytest.raises(ValueError) as err:
        render("pdf", load("seed_pass.json"))
    for fmt in ("terminal", "json", "junit", "tap", "markdown", "html"):
        assert fmt in str(err.value)
    assert set(FORMATS) == {"terminal", "json", "junit", "tap", "markdown", "html"}


def test_renderers_do_not_modify_the_document():
    doc = load("mixed.json")
    before = copy.deepcopy(doc)
    for fmt in FORMATS:
        render(fmt, doc, color=True, verbose=True)
    assert doc == before


class Odd:
    def __str__(self):
        raise RuntimeError("no text for you")


ODD_DOCS = [
    {},
    {"entries": None, "summary": "x", "client": ["not", "a", "dict"]},
    {"contract": 7, "target": None, "entries": [None, 3, "text", [1, 2]]},
    {"entries": [{"phase": "warmup", "status": "exploded", "tags": "not-a-list", "duration_s": "slow"}]},
    {"entries": [{"id": "load/x/1", "phase": "load", "name": "r", "status": "pass",
                  "observed": {"index": "one", "of": None, "latency_s": "fast", "model": {"m": 1}}},
                 {"id": "load/x/m", "phase": "load", "name": "agg", "status": "fail",
                  "observed": {"total": "many", "first_failures": "none"}},
                 {"id": "health", "phase": "health", "name": "h", "status": "pass",
                  "observed": {"elapsed_s": None, "document": [1, 2], "attempts": "3"}},
                 {"id": "logs", "phase": "logs", "name": "l", "status": "fail",
                  "observed": {"findings": [1, None, {"line": "x"}], "lines_scanned": None}},
                 {"id": "schema/responses/x", "phase": "schema", "name": "s", "status": "fail",
                  "observed": {"validated": {}, "first_errors": 5}},
                 {"id": "check/f", "phase": "check", "name": "f", "status": "warn", "tags": ["field"],
                  "observed": Odd(), "expected": {1, 2}},
                 {"id": "check/c", "phase": "check", "name": "c", "status": "error",
                  "observed": b"\xff\xfe", "expected": math.nan}],
     "summary": {"total": "lots", "verdict": None, "pass_rate": math.inf},
     "client": {"requests": "x", "latency_s": {"mean": "slow", "p50": None}, "tokens": None},
     "duration_s": math.nan, "interrupted": "yes", "started_at": 12},
]


@pytest.mark.parametrize("doc", ODD_DOCS)
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_reporters_never_raise_on_odd_documents(fmt, doc):
    for options in ({}, {"color": True, "verbose": True}, {"quiet": True}):
        out = render(fmt, doc, **options)
        assert isinstance(out, str) and out.endswith("\n")
    if fmt == "junit":
        ET.fromstring(out.encode("utf-8"))
    if fmt == "json":
        json.loads(out)


def test_huge_strings_are_clipped_for_humans_and_kept_in_json():
    doc = load("seed_pass.json")
    huge = "x" * 2_000_000
    doc["entries"][1].update(status="fail", message=huge, observed={"body": huge}, name=huge)
    assert huge in render("json", doc)
    for fmt in ("terminal", "junit", "tap", "markdown"):
        out = render(fmt, doc, verbose=True)
        assert len(out) < 200_000, fmt
        assert "more chars" in out, fmt


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
entries_strategy = st.lists(st.fixed_dictionaries(
    {"id": st.text(max_size=12), "phase": st.sampled_from(PHASES + ("other",)),
     "name": st.text(max_size=40), "status": st.sampled_from(("pass", "fail", "error", "warn", "skip", "odd"))},
    optional={"observed": json_values, "expected": json_values, "message": st.text(max_size=60),
              "tags": st.lists(st.sampled_from(("field", "consistency", "metrics", "streaming")), max_size=3),
              "duration_s": st.floats(), "location": st.text(max_size=20)}), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=entries_strategy, client=st.dictionaries(st.sampled_from(
    ("requests", "latency_s", "ttft_s", "tokens", "streams")), json_values, max_size=5))
def test_reporters_never_raise_on_generated_ledgers(entries, client):
    doc = {"contract": "gen", "target": "http://127.0.0.1:1", "entries": entries, "client": client}
    for fmt in FORMATS:
        out = render(fmt, doc, verbose=True)
        assert out.endswith("\n")
    root = ET.fromstring(render("junit", doc).encode("utf-8"))
    assert int(root.get("tests")) == len(entries)
    assert len(tap_results(render("tap", doc))) == len(entries)


# --- redaction reaches every format ----------------------------------------------------------

SECRET = "sk-live-5EcReT0token"


def doc_with_secret() -> dict:
    doc = load("mixed.json")
    doc["contract"] = f"team-{SECRET}"
    doc["target"] = f"http://user:{SECRET}@127.0.0.1:8765"
    doc["entries"][0]["observed"]["document"] = {SECRET: f"Bearer {SECRET}"}
    doc["entries"][3].update(name=f"req {SECRET}", message=f"HTTP 401: bad key {SECRET}",
                             observed={"auth": SECRET, "http_status": 401}, status="fail")
    doc["entries"][-1].update(message=f"deselected {SECRET}", tags=[SECRET], location=f"{SECRET}.yaml:3")
    doc["entries"][-3].update(expected=[SECRET], observed={"header": {"authorization": SECRET}})
    doc["client"]["by_model"][SECRET] = {"total": 1}
    return doc


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_redact_removes_the_secret_from_every_format(fmt):
    doc = doc_with_secret()
    assert SECRET in render(fmt, doc, verbose=True)     # the secret does reach this format ...
    clean = redact(doc, [SECRET, "abc"])
    for options in ({}, {"verbose": True, "color": True}, {"quiet": True}):
        assert SECRET not in render(fmt, clean, **options)   # ... and redaction takes it out
    mask = r"\*\*\*" if fmt == "markdown" else "***"    # Markdown escapes the asterisks
    assert mask in render(fmt, clean, verbose=True)


# --- where an entry comes from, and interrupted runs -------------------------------------------

@pytest.mark.parametrize("location, file, line", [
    ("contracts/fakeai-final.yaml:22:3", "contracts/fakeai-final.yaml", 22),
    ("/abs/dir:with:colons/c.yaml:7", "/abs/dir:with:colons/c.yaml", 7),
    ("contracts/c.yaml", "contracts/c.yaml", None),
])
def test_junit_file_is_the_path_and_line_the_line_number(location, file, line):
    doc = load("seed_pass.json")
    for e in doc["entries"]:
        e["location"] = location
    xml = JUnitXml.fromstring(render("junit", doc))
    cases = [case for suite in xml for case in suite]
    assert cases
    for case in cases:
        assert case._elem.get("file") == file
        assert (int(case._elem.get("line")) if case._elem.get("line") else None) == line


def test_tap_has_no_fullwidth_number_sign():
    doc = load("mixed.json")
    text = render("tap", doc)
    assert "\uff03" not in text
    assert re.search(r"^ok \d+ - [^\n]*\\#\d", text, flags=re.M)


def _all_passing_but_interrupted() -> dict:
    ledger = Ledger("c", "http://127.0.0.1:1", interrupted=True, healthy=True)
    ledger.record("health", "health", "Server Health Check", Status.PASS)
    return ledger.to_dict()


def test_an_interrupted_run_is_never_a_pass_in_any_report():
    doc = _all_passing_but_interrupted()
    assert doc["summary"]["verdict"] == "INTERRUPTED" and doc["summary"]["exit_code"] == 130
    assert not schema_errors(doc)
    terminal = render("terminal", doc)
    assert "ALL TESTS PASSED" not in terminal and "INTERRUPTED" in terminal.splitlines()[-1]
    assert "ALL TESTS PASSED" not in render("terminal", doc, quiet=True)
    assert "verdict INTERRUPTED" in render("tap", doc)
    assert "INTERRUPTED" in render("markdown", doc).splitlines()[0]
    assert '"verdict": "INTERRUPTED"' in render("json", doc)
    # a saved ledger that still says PASS is rendered as interrupted too
    doc["summary"]["verdict"] = "PASS"
    assert "ALL TESTS PASSED" not in render("terminal", doc)


def test_html_shows_server_figures_to_six_digits_and_long_model_names_by_their_end():
    """0.013333333333333332 reads as 0.0133333; a served model's label keeps the end that tells it apart."""
    model = "meta-llama/Llama-3.1-8B-Instruct"
    entry = {"id": "check/ttft", "phase": "check", "name": "Server TTFT", "status": "pass",
             "observed": 0.013333333333333332, "expected": 0.010815, "message": "", "duration_s": 0.0, "tags": []}
    doc = {"contract": "c", "target": "t", "started_at": "", "duration_s": 1.0, "interrupted": False,
           "summary": {"total": 1, "passed": 1, "failed": 0, "errors": 0, "warned": 0, "skipped": 0,
                       "pass_rate": 1.0, "verdict": "PASS", "exit_code": 0},
           "entries": [entry], "client": {"by_model": {model: {"total": 16, "succeeded": 16, "failed": 0}}},
           "meta": {"server_vs_client": [{"check": "check/ttft", "server": "observed",
                                          "server_expr": "histogram_quantile(`0.5`, delta.prom, 'x')",
                                          "client_expr": "client.ttft_s.p50"}]}}
    page = render("html", doc)
    assert '<td class="v server">0.0133333</td>' in page and "0.013333333333333332" not in page.split("<script")[0]
    assert ">…Llama-3.1-8B-Instruct</text>" in page and f"<title>{model}</title>" in page
