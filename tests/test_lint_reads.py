"""lint knows what expressions read: Prometheus selectors, declared metric names, the document's shape,
`tolerance: bucket`, a required `version`; explain writes selectors out. Each rule is shown to reject
the mistake (exit 2, file:line, the fix) and to accept the right form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fakeai_contract.contract import load_contract
from fakeai_contract.contract.shape import child_schema, closed_keys, ledger_schema
from fakeai_contract.errors import ContractError

HEAD = """\
contract: t
version: 1
target: {base_url: "http://127.0.0.1:1"}
vars: {model: x}
endpoints:
  prom: {path: /metrics, format: prometheus, metrics: [vllm:request_success_total, vllm:time_to_first_token_seconds]}
  bare: {path: /metrics/prometheus, format: prometheus}
  js: {path: /m, schema: m.schema.json}
  open: {path: /o}
checks:
"""
CLOSED = ('{"type": "object", "additionalProperties": false, "properties": {"total_requests": {"type": "integer"},'
          ' "by": {"type": "object", "additionalProperties": false, "properties": {"a": {}}}}}')


def contract(folder: Path, *checks: str) -> Path:
    (folder / "m.schema.json").write_text(CLOSED)
    path = folder / "c.yaml"
    path.write_text(HEAD + "".join(f"  - {c}\n" for c in checks))
    return path


def rejected(folder: Path, check: str) -> ContractError:
    with pytest.raises(ContractError) as info:
        load_contract(contract(folder, check), env={})
    rendered = info.value.render()
    assert "c.yaml:11:" in rendered and "Traceback" not in rendered      # the check's line
    return info.value


@pytest.mark.parametrize("check, message, fix", [
    ("""{name: a, that: "metric(delta.prom, 'vllm:request_success_total{finished_reason=\\"stop\\"')", equals: 1}""",
     "expected ',' or '}', found 'the end' at column 50 of the selector (column 70 of the expression)",
     "close them with '}'"),
    ("""{name: a, that: "metric(prom, 'vllm:request_success_total{finished_reason=\\"stop)')", equals: 1}""",
     "unterminated string at column 44 of the selector", "close the label value"),
    ("""{name: a, that: "metric(prom, 'x{a~\\"b\\"}')", equals: 1}""",
     "expected one of = != =~ !~ after a", 'label=~"regex"'),
    ("""{name: a, that: "metric(prom, 'x{a=~\\"(\\"}')", equals: 1}""",
     "invalid regular expression '('", "anchors it at both ends"),
    ("""{name: a, that: "metric(prom, '{a=~\\".*\\"}')", equals: 1}""",
     "a selector needs a metric name", "__name__"),
    ("""{name: a, that: "histogram_count(prom, '{le=\\"1\\"}')", equals: 1}""",
     "histogram_count() needs the histogram's name", "write the histogram's name first"),
])
def test_selector_syntax_is_an_error_with_its_position_and_fix(tmp_path, check, message, fix):
    err = rejected(tmp_path, check)
    assert message in err.message and fix in err.fix


def test_a_metric_the_endpoint_does_not_declare_suggests_the_declared_one(tmp_path):
    err = rejected(tmp_path, """{name: a, that: "metric(delta.prom, 'vllm:request_sucess_total')", equals: 1}""")
    assert "endpoints.prom.metrics does not declare" in err.message
    assert "did you mean 'vllm:request_success_total'?" in err.message


def test_declared_names_cover_suffixes_and_histogram_families(tmp_path):
    c = load_contract(contract(
        tmp_path,
        """{name: a, that: "metric(delta.prom, 'vllm:request_success_total{finished_reason=\\"stop\\"}')", equals: 1}""",
        """{name: b, that: "histogram_quantile(`0.5`, prom, 'vllm:time_to_first_token_seconds')", equals: 1}""",
        """{name: c, that: "metric(prom, 'vllm:time_to_first_token_seconds_count')", equals: 1}""",
        """{name: d, that: "metric(bare, 'anything_goes')", equals: 1}""",         # no list: anything
        """{name: e, that: "metric(prom, '{__name__=~\\"vllm:.+\\"}')", equals: 1}"""), env={})
    assert c.endpoints["prom"].metrics == ("vllm:request_success_total", "vllm:time_to_first_token_seconds")
    assert c.endpoints["bare"].metrics is None


def test_optional_metrics_are_known_to_lint_but_not_required(tmp_path):
    """A counter a server writes only once incremented: selectable, and its absence fails no entry."""
    path = tmp_path / "o.yaml"
    path.write_text("contract: o\nversion: 1\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
                    "endpoints: {prom: {path: /p, format: prometheus, metrics: [a_total],"
                    " optional_metrics: [failures]}}\nchecks:\n"
                    "  - {name: a, that: \"metric(delta.prom, 'failures_total') || `0`\", equals: 0}\n")
    endpoint = load_contract(path, env={}).endpoints["prom"]
    assert endpoint.metrics == ("a_total",) and endpoint.optional_metrics == ("failures",)
    path.write_text(path.read_text().replace("failures_total", "failure_total"))
    with pytest.raises(ContractError, match="did you mean 'failures_total'"):
        load_contract(path, env={})


def test_a_prometheus_function_on_a_json_endpoint_is_an_error(tmp_path):
    err = rejected(tmp_path, """{name: a, that: "metric(delta.js, 'x')", equals: 1}""")
    assert "the endpoint 'js' is format json, not prometheus" in err.message
    assert err.fix == "add format: prometheus to endpoints.js"


def test_a_closed_prometheus_schema_declares_the_names(tmp_path):
    (tmp_path / "p.schema.json").write_text('{"type": "object", "additionalProperties": false, "properties": '
                                            '{"fakeai_chat_requests_total": {}, "_samples": {}, "_families": {}}}')
    path = tmp_path / "p.yaml"
    path.write_text("contract: p\nversion: 1\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
                    "endpoints: {prom: {path: /p, format: prometheus, schema: p.schema.json}}\nchecks:\n"
                    "  - {name: a, that: \"metric(prom, 'fakeai_chat_requests')\", equals: 1}\n")
    with pytest.raises(ContractError, match="the schema p.schema.json does not declare; did you mean "
                                            "'fakeai_chat_requests_total'"):
        load_contract(path, env={})


@pytest.mark.parametrize("check, message, fix", [
    ("{name: a, that: client.requsts.total, equals: 1}",
     "reads client.requsts, but client has no key 'requsts'; did you mean client.requests?", "write client.requests"),
    ("{name: a, that: client.ttft_s.p5, equals: 1}",
     "client.ttft_s has no key 'p5'; did you mean client.ttft_s.p50?", "write client.ttft_s.p50"),
    ("{name: a, that: client.by_model.x.totl, equals: 1}", "did you mean client.by_model.x.total?", None),
    ("{name: a, that: vars.modle, equals: 1}", "did you mean vars.model?", "write vars.model"),
    ("{name: a, that: js.total_requets, equals: 1}", "did you mean js.total_requests?", None),
    ("{name: a, that: js.total_requests, equals: delta.js.by.b}", "delta.js.by has no key 'b' (it has: a)",
     "read one of delta.js.by's keys: a"),
    ("{name: a, that: \"length(client.streams.complete) > `0`\", equals: true}",
     "did you mean client.streams.completed?", None),
])
def test_a_misspelt_path_in_a_known_shape_is_an_error_with_a_suggestion(tmp_path, check, message, fix):
    err = rejected(tmp_path, check)
    assert message in err.message
    assert fix is None or err.fix == fix


def test_a_suggested_path_through_a_key_that_is_not_an_identifier_is_quoted(tmp_path):
    """client.by_path is keyed by request path: the suggestion must be an expression that reads it."""
    err = rejected(tmp_path, """{name: a, that: 'client.by_path."/v1/embeddings".tokens.promt', equals: 1}""")
    fixed = 'client.by_path."/v1/embeddings".tokens.prompt'
    assert f"did you mean {fixed}?" in err.message and err.fix == f"write {fixed}"
    # the suggestion is itself a valid contract expression: it lints
    load_contract(contract(tmp_path, "{name: a, that: '" + fixed + "', equals: 1}"), env={})
    err = rejected(tmp_path, """{name: a, that: 'client.by_model."gpt-3.5-turbo".totl', equals: 1}""")
    assert err.fix == 'write client.by_model."gpt-3.5-turbo".total'


def test_what_cannot_be_known_is_not_flagged(tmp_path):
    c = load_contract(contract(
        tmp_path,
        "{name: a, that: open.anything.goes, equals: client.by_model.\"gpt-4\".total}",   # open schema, model map
        "{name: b, that: \"client.requests.total\", equals: \"js.by.a\"}",
        "{name: c, that: \"js.by.* | [0]\", equals: 1}",
        "{name: d, that: \"client.load.concurrency\", equals: 4}",
        "{name: e, that: \"client.tokens.reported_by\", equals: 4}",
        "{name: f, that: \"vars.set_on_the_command_line\", equals: 4}"),
        env={}, overrides={"set_on_the_command_line": "4"})
    assert len(c.checks) == 6


PACED = Path(__file__).parent / "data" / "contracts" / "measure" / "paced.yaml"


@pytest.mark.parametrize("args", [("fakeai-prometheus",),                                  # closed loop
                                  (str(PACED), "--set", "DURATION=0.5", "--set", "RATE=20")])  # open loop
def test_client_keys_the_runner_writes_are_all_known(cli, args):
    """A real run's client section holds no key lint would call misspelt."""
    r = cli("run", *args, "--serve-reference", "--report", "json:-", "--quiet")
    ledger = ledger_schema()

    def walk(doc, schema, path):
        keys = closed_keys(schema, ledger, listed_is_closed=True)
        for key, value in doc.items():
            assert keys is None or key in keys, f"{path}.{key} is not in schemas/ledger.schema.json"
            if isinstance(value, dict):
                walk(value, child_schema(schema, key, ledger), f"{path}.{key}")

    assert r.ledger["client"]["requests"]["total"] > 0
    walk(r.ledger["client"], ledger["$defs"]["client"], "client")


def test_tolerance_bucket_needs_exactly_one_histogram_quantile(tmp_path):
    err = rejected(tmp_path, "{name: a, that: client.ttft_s.p50, equals: 0.1, tolerance: bucket}")
    assert "calls no histogram_quantile()" in err.message and "client.ttft_s.p50" in err.fix
    assert err.location.column > 40                                           # at the tolerance
    err = rejected(tmp_path, """{name: a, that: "histogram_quantile(`0.5`, prom, 'vllm:time_to_first_token_seconds')", """
                             """equals: "histogram_quantile(`0.5`, before.prom, 'vllm:time_to_first_token_seconds')", """
                             """tolerance: bucket}""")
    assert "calls it 2 times" in err.message
    c = load_contract(contract(tmp_path, """{name: a, that: client.ttft_s.p50, le: "histogram_quantile(`0.9`, """
                                         """delta.prom, 'vllm:time_to_first_token_seconds')", tolerance: bucket}"""), env={})
    assert c.checks[0].tolerance == "bucket"


def test_missing_version_is_exit_2_with_the_line_and_the_fix(cli, tmp_path):
    path = tmp_path / "nv.yaml"
    path.write_text("# a contract\ncontract: nv\ntarget: {base_url: 'http://127.0.0.1:1'}\n")
    r = cli("lint", str(path))
    assert r.code == 2
    assert "nv.yaml:2:1: the contract is missing the required key 'version'" in r.err
    assert "fix: write version: 1" in r.err


def test_an_overlay_inherits_the_version_of_its_base(cli, tmp_path):
    path = tmp_path / "over.yaml"
    path.write_text("extends: [fakeai-prometheus]\ncontract: over\n")
    assert cli("lint", str(path)).code == 0


def _declares_a_contract(path: Path) -> bool:
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeError, ValueError):
        return False                   # a malformed contract kept to test its error
    # a contract of its own (an overlay inherits its base's version; a test case names a contract file)
    return isinstance(tree, dict) and {"contract", "target"} <= set(tree) and "extends" not in tree


def test_every_contract_in_the_repository_states_its_version():
    root = Path(__file__).resolve().parent.parent
    files = [*root.glob("contracts/*.yaml"), *root.glob("tests/**/*.yaml")]
    lacking = [str(p.relative_to(root)) for p in files
               if _declares_a_contract(p) and "version" not in yaml.safe_load(p.read_text(encoding="utf-8"))]
    assert not lacking and len(files) > 80


def test_explain_writes_selectors_out(cli):
    r = cli("explain", "fakeai-prometheus")
    assert r.code == 0
    assert ("0.5 (p50) quantile of histogram `fakeai_time_to_first_token_seconds` in delta.prom "
            "(the run's increase, per series)") in r.out
    assert 'sum of the series `fakeai_chat_requests_total{status=~"5.."}` in delta.prom' in r.out
    assert "tolerance: the width of the bucket the server's quantile falls in" in r.out


def test_the_readme_s_prometheus_examples_lint(tmp_path):
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("\n## Prometheus"):text.index("\n## ", text.index("\n## Prometheus") + 5)]
    blocks = section.split("```yaml\n")[1:]
    assert len(blocks) >= 2
    head = ("contract: r\nversion: 1\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
            "load: {models: [m], mix: [{name: a, count: 1, body: {messages: []}}]}\n")
    for i, block in enumerate(blocks):
        path = tmp_path / f"readme{i}.yaml"
        path.write_text(head + block.split("```")[0])
        assert load_contract(path, env={}).checks
