"""The loader: good contracts become the expected dataclasses; variables, extends, positions, secrets."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fakeai_contract import resources
from fakeai_contract.errors import ContractError, Location
from fakeai_contract.contract import load_contract
from fakeai_contract.model import Check, Contract, Endpoint, Eventually, MixEntry

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "contracts"
GOOD = DATA / "good"


def write(folder: Path, name: str, text: str) -> Path:
    """Write a contract; one with `contract:` gets `version: 1` last, so its other lines keep their numbers."""
    path = folder / name
    if text.startswith("contract:") and "\nversion:" not in text:
        text = text + ("" if text.endswith("\n") else "\n") + "version: 1\n"
    path.write_text(text, encoding="utf-8")
    return path


HEAD = "contract: t\ntarget:\n  base_url: http://127.0.0.1:1\n"


# --- the shipped contract ---------------------------------------------------------------------------

def test_shipped_contract_loads_with_seed_defaults():
    c = load_contract("fakeai-final", env={})
    assert isinstance(c, Contract)
    assert c.name == "fakeai-final-integration" and c.version == 1
    assert c.source == resources.shipped_contract("fakeai-final")
    assert c.target.base_url == "http://127.0.0.1:8765"
    assert c.target.request_timeout == 15.0 and c.health.timeout == 45.0
    assert c.health.schema == "health.schema.json" and c.health.path == "/health"
    assert sum(m.count for m in c.load.mix) == 20
    assert [m.is_streaming for m in c.load.mix] == [False, True]
    assert c.load.mix[0].response_schema == "chat_completion.schema.json"
    assert c.load.mix[1].chunk_schema == "chat_completion_chunk.schema.json"
    assert len(c.load.models) == 5
    assert list(c.endpoints) == ["metrics", "events", "errors", "streaming", "slo"]
    assert len(c.checks) == 19
    assert sum("field" in ch.tags for ch in c.checks) == 15
    assert sum("consistency" in ch.tags for ch in c.checks) == 4
    assert c.settle.until == "events.queue_depth == `0`" and c.settle.timeout == 5.0
    assert len(c.logs.fail_on) == 3
    assert c.vars == {"host": "127.0.0.1"}
    assert c.schema_dirs == (resources.contracts_dir(), resources.schemas_dir())
    assert c.files == (resources.shipped_contract("fakeai-final"),)


def test_shipped_contract_checks_translate_the_seed():
    by_name = {ch.name: ch for ch in load_contract("fakeai-final", env={}).checks}
    assert by_name["metrics: total_requests"].op == "gt" and by_name["metrics: total_requests"].expected == 0
    assert by_name["metrics: requests_per_second"].op == "exists"
    assert by_name["streaming: ttft_percentiles"].expected == ["object", "null"]
    slo = by_name["SLO Rate Consistency"]
    assert (slo.op, slo.expected, slo.tolerance, slo.severity) == ("equals", "sub(`1`, errors.error_rate)",
                                                                   0.02, "warn")
    count = by_name["Request Count Consistency"]
    assert count.tolerance == 2.0 and count.expected == "errors.total_requests" and count.severity == "error"
    assert by_name["Event Bus Activity"].eventually == Eventually(timeout=3.0, interval=0.2)
    assert by_name["Streaming Count Consistency"].tolerance is None


def test_shipped_contract_honours_seed_environment_variables():
    env = {"FAKEAI_HOST": "10.0.0.5", "FAKEAI_PORT": "9999", "SERVER_TIMEOUT": "60", "REQUEST_TIMEOUT": "20"}
    c = load_contract("fakeai-final", env=env)
    assert c.target.base_url == "http://10.0.0.5:9999"
    assert c.health.timeout == 60.0 and c.target.request_timeout == 20.0
    assert c.vars["host"] == "10.0.0.5"


@pytest.mark.skipif(shutil.which("check-jsonschema") is None, reason="check-jsonschema not installed")
def test_shipped_contracts_validate_raw_against_the_contract_schema():
    contracts = sorted(str(p) for p in (ROOT / "contracts").glob("*.yaml"))
    result = subprocess.run(["check-jsonschema", "--schemafile", str(ROOT / "schemas" / "contract.schema.json"),
                             *contracts], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("check-jsonschema") is None, reason="check-jsonschema not installed")
def test_contract_schema_rejects_a_raw_mistake():
    result = subprocess.run(["check-jsonschema", "--schemafile", str(ROOT / "schemas" / "contract.schema.json"),
                             str(DATA / "bad" / "unknown_key.yaml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "chekcs" in result.stdout + result.stderr


def test_every_shipped_contract_starts_with_the_schema_modeline():
    for path in (ROOT / "contracts").glob("*.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/contract.schema.json", path


# --- good contracts -------------------------------------------------------------------------------

def test_base_contract_dataclasses():
    c = load_contract(GOOD / "base.yaml", env={})
    assert c.target.base_url == "http://127.0.0.1:9100" and c.target.headers == {"X-Team": "base"}
    assert c.target.connect_timeout == 5.0           # a model default
    assert c.health.path == "/healthz" and c.health.timeout == 45.0
    assert c.health.location == Location(str(GOOD / "base.yaml"), 12, 3)
    assert c.load.concurrency == 2 and c.load.itemize == 50
    assert c.load.mix[0] == MixEntry(
        name="plain", count=3, body={"messages": [{"role": "user", "content": "hello {n} from {model}"}],
                                     "stream": False}, location=Location(str(GOOD / "base.yaml"), 18, 7))
    assert c.endpoints["errors"] == Endpoint(name="errors", path="/metrics/errors", schema=None, format="json",
                                             location=Location(str(GOOD / "base.yaml"), 26, 11))
    assert [ch.id for ch in c.checks] == ["check/requests-counted", "check/error-rate", "check/counts-agree"]
    assert c.checks[0] == Check(id="check/requests-counted", name="Requests Counted", that="metrics.total_requests",
                                op="gt", expected=0, location=Location(str(GOOD / "base.yaml"), 28, 5))
    assert type(c.load.mix[0].body) is dict and type(c.load.mix[0].body["messages"]) is list
    assert c.settle is None and c.server is None


def test_health_only_contract_is_valid():
    c = load_contract(GOOD / "health_only.yaml", env={})
    assert c.checks == () and c.load.mix == () and c.endpoints == {}


def test_check_ids_are_unique(tmp_path):
    path = write(tmp_path, "c.yaml", HEAD + "endpoints: {m: {path: /m}}\nchecks:\n"
                 "  - {name: Same Name, that: m.a, gt: 0}\n  - {name: same name!, that: m.b, gt: 0}\n"
                 "  - {name: SAME-NAME, that: m.c, gt: 0}\n")
    assert [ch.id for ch in load_contract(path, env={}).checks] == [
        "check/same-name", "check/same-name-2", "check/same-name-3"]


def test_server_block_and_target_limits(tmp_path):
    path = write(tmp_path, "c.yaml", HEAD + "  max_body_bytes: 1024\n  max_redirects: 0\n"
                 "server:\n  command: [python, -m, fakeai, --port, '${PORT:-8765}']\n"
                 "  env: {A: 1, B: true}\n  grace: 2\n")
    c = load_contract(path, env={})
    assert c.target.max_body_bytes == 1024 and c.target.max_redirects == 0
    assert c.server.command == ("python", "-m", "fakeai", "--port", "8765")
    assert c.server.env == {"A": "1", "B": "true"} and c.server.grace == 2.0 and c.server.shell is False
    shell = write(tmp_path, "s.yaml", HEAD + "server: {command: 'fakeai --port 1 &', shell: true}\n")
    assert load_contract(shell, env={}).server.command == "fakeai --port 1 &"


def test_every_operator_and_its_operand(tmp_path):
    path = write(tmp_path, "ops.yaml", HEAD + """endpoints: {m: {path: /m}}
vars: {n: 3}
checks:
  - {name: a, that: m.x, equals: "'text'"}
  - {name: b, that: m.x, between: [0, m.limit], tolerance: "5%"}
  - {name: c, that: m.x, exists: false}
  - {name: d, that: m.x, type: integer}
  - {name: e, that: m.id, matches: "^chatcmpl-"}
  - {name: f, that: m.x, le: [1, 2]}
  - {name: g, that: before.m.x, lt: delta.m.x}
  - {name: h, that: client.requests.total, ge: vars.n}
""")
    checks = load_contract(path, env={}).checks
    assert [(ch.op, ch.expected) for ch in checks] == [
        ("equals", "'text'"), ("between", [0, "m.limit"]), ("exists", False), ("type", "integer"),
        ("matches", "^chatcmpl-"), ("le", [1, 2]), ("lt", "delta.m.x"), ("ge", "vars.n")]
    assert checks[1].tolerance == "5%"


# --- variables ------------------------------------------------------------------------------------

VARS = HEAD.replace("127.0.0.1", "${host}") + "vars:\n  host: ${H:-from-vars}\n  n: 3\n"


def test_variable_precedence_set_over_env_over_vars(tmp_path):
    path = write(tmp_path, "v.yaml", VARS)
    assert load_contract(path, env={}).target.base_url == "http://from-vars:1"
    assert load_contract(path, env={"host": "from-env"}).target.base_url == "http://from-env:1"
    assert load_contract(path, env={"H": "via-default"}).target.base_url == "http://via-default:1"
    c = load_contract(path, env={"host": "from-env"}, overrides={"host": "from-set"})
    assert c.target.base_url == "http://from-set:1" and c.vars["host"] == "from-set"


def test_default_applies_when_unset_or_empty(tmp_path):
    path = write(tmp_path, "d.yaml", HEAD + "description: ${D:-fallback}\n")
    assert load_contract(path, env={}).description == "fallback"
    assert load_contract(path, env={"D": ""}).description == "fallback"
    assert load_contract(path, env={"D": "given"}).description == "given"


def test_whole_variable_is_typed_like_yaml(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "  request_timeout: ${RT:-15}\n  max_redirects: ${MR:-2}\n"
                 "load:\n  models: [m]\n  mix:\n    - name: x\n      count: ${N:-4}\n"
                 "      body: {max_tokens: '${MAX:-50}', stream: '${STREAM:-false}', note: 'v${MAX:-50}'}\n"
                 "    - name: y\n      count: 1\n      body:\n        max_tokens: ${MAX:-50}\n        stream: ${STREAM:-true}\n")
    c = load_contract(path, env={"MR": "0"})
    assert c.target.request_timeout == 15.0 and c.target.max_redirects == 0
    assert c.load.mix[0].count == 4
    # Quoted in the body: the user asked for a string; plain: typed.
    assert c.load.mix[0].body == {"max_tokens": "50", "stream": "false", "note": "v50"}
    assert c.load.mix[1].body == {"max_tokens": 50, "stream": True}
    assert c.load.mix[1].is_streaming


def test_quoted_variable_in_a_flow_mapping_still_fills_a_number(tmp_path):
    path = write(tmp_path, "f.yaml", HEAD + "endpoints: {m: {path: /m}}\nvars: {t: 4}\nchecks:\n"
                 "  - {name: a, that: m.x, gt: 0, eventually: {timeout: '${t}', interval: \"${I:-0.5}\"}}\n")
    assert load_contract(path, env={}).checks[0].eventually == Eventually(timeout=4.0, interval=0.5)


def test_numeric_variable_in_a_string_field_stays_a_string(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + "  headers: {X-Api-Version: '${V:-2}', X-Other: x}\n"
                 "contract_note: x\n".replace("contract_note: x\n", "description: ${V:-2}\n"))
    c = load_contract(path, env={})
    assert c.target.headers["X-Api-Version"] == "2" and c.description == "2"


def test_dollar_dollar_brace_is_a_literal(tmp_path):
    path = write(tmp_path, "l.yaml", HEAD + "description: cost $5, literal $${NOT_A_VAR} and $$ stays\n")
    assert load_contract(path, env={}).description == "cost $5, literal ${NOT_A_VAR} and $$ stays"


def test_runtime_placeholders_are_left_alone(tmp_path):
    path = write(tmp_path, "p.yaml", HEAD + "load:\n  models: [m]\n  mix:\n    - name: x\n      count: 1\n"
                 "      body: {messages: [{role: user, content: 'n={n} model={model} {literal}'}]}\n")
    body = load_contract(path, env={}).load.mix[0].body
    assert body["messages"][0]["content"] == "n={n} model={model} {literal}"


def test_vars_refer_to_vars_and_nested_defaults(tmp_path):
    path = write(tmp_path, "n.yaml", HEAD.replace("127.0.0.1:1", "${hostport}")
                 + "vars:\n  hostport: ${host}:${port}\n  host: ${H:-${FALLBACK_HOST:-localhost}}\n  port: 80\n")
    assert load_contract(path, env={}).target.base_url == "http://localhost:80"
    assert load_contract(path, env={"FALLBACK_HOST": "fb"}).target.base_url == "http://fb:80"
    c = load_contract(path, env={}, overrides={"port": 81})
    assert c.target.base_url == "http://localhost:81" and c.vars == {"hostport": "localhost:81",
                                                                     "host": "localhost", "port": 81}


def test_undefined_variable_suggests_a_known_name(tmp_path):
    path = write(tmp_path, "u.yaml", HEAD + "  request_timeout: ${REQUEST_TIMEOT}\n")
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    assert info.value.location == Location(str(path), 4, 20)
    assert "did you mean 'REQUEST_TIMEOUT'?" in info.value.render()
    assert "--set REQUEST_TIMEOT=VALUE" in info.value.fix


def test_variable_cycle_through_three_variables(tmp_path):
    path = write(tmp_path, "c.yaml", HEAD + "description: ${a}\nvars:\n  a: ${b}\n  b: ${c}\n  c: x-${a}\n")
    with pytest.raises(ContractError, match="variable cycle: a → b → c → a"):
        load_contract(path, env={})


def test_environment_breaks_a_cycle(tmp_path):
    path = write(tmp_path, "c.yaml", HEAD + "description: ${a}\nvars:\n  a: ${b}\n  b: ${a}\n")
    assert load_contract(path, env={"b": "env"}).description == "env"


# --- extends --------------------------------------------------------------------------------------

def test_overlay_merges_onto_its_base():
    c = load_contract(GOOD / "overlay.yaml", env={})
    base = GOOD / "base.yaml"
    assert c.name == "team-overlay"
    assert c.target.request_timeout == 20.0 and c.target.base_url == "http://127.0.0.1:9100"   # deep merge
    assert c.target.headers == {"X-Team": "base"}
    assert c.load.models == ("overlay-model",)            # a plain list is replaced
    assert c.load.concurrency == 2
    assert [(m.name, m.count) for m in c.load.mix] == [("plain", 3), ("streamed", 5), ("extra", 1)]
    assert [ch.name for ch in c.checks] == ["Requests Counted", "Error Rate", "Counts Agree", "Latency Bound"]
    error_rate = c.checks[1]
    assert error_rate.expected == 0.5 and error_rate.severity == "warn"   # replaced in place
    assert error_rate.location.file == str(GOOD / "overlay.yaml")
    assert c.checks[0].location.file == str(base)
    assert c.files == (base, GOOD / "overlay.yaml")


def test_three_level_chain():
    c = load_contract(GOOD / "chain_top.yaml", env={})
    assert c.name == "chain-top"
    assert c.target.base_url == "http://127.0.0.1:9300"     # the top's vars win
    assert c.checks[0].that == "delta.metrics.total_requests" and c.checks[0].op == "ge"
    assert c.target.request_timeout == 20.0
    assert c.files == (GOOD / "base.yaml", GOOD / "overlay.yaml", GOOD / "chain_top.yaml")


def test_extending_the_shipped_contract_by_name():
    c = load_contract(GOOD / "shipped_overlay.yaml", env={})
    assert len(c.checks) == 20
    slo = next(ch for ch in c.checks if ch.name == "SLO Rate Consistency")
    assert slo.tolerance == 0.01 and slo.severity == "error"
    assert [ch.name for ch in c.checks].index("SLO Rate Consistency") == 17      # replaced in place
    assert c.checks[-1].name == "No Errors"
    assert c.schema_dirs == (GOOD, resources.contracts_dir(), resources.schemas_dir())
    assert c.files == (resources.shipped_contract("fakeai-final"), GOOD / "shipped_overlay.yaml")


def test_extends_two_files_in_order(tmp_path):
    write(tmp_path, "a.yaml", HEAD + "description: from a\nendpoints: {m: {path: /a}}\n")
    write(tmp_path, "b.yaml", "description: from b\nendpoints: {m: {path: /b, schema: x.json}, n: {path: /n}}\n")
    top = write(tmp_path, "top.yaml", "extends: [a.yaml, b.yaml]\ncontract: top\nendpoints: {m: {path: /top}}\n")
    write(tmp_path, "x.json", '{"type": "object"}')
    c = load_contract(top, env={})
    assert c.description == "from b"
    assert c.endpoints["m"].path == "/top" and c.endpoints["m"].schema == "x.json"
    assert list(c.endpoints) == ["m", "n"]


def test_error_in_a_base_names_the_base_file_and_line():
    with pytest.raises(ContractError) as info:
        load_contract(DATA / "positions" / "overlay_of_bad.yaml", env={})
    assert info.value.location == Location(str(DATA / "positions" / "sub" / "base_bad.yaml"), 10, 16)
    assert "tolerance: lots" in info.value.render()


def test_schema_found_beside_the_base_contract():
    c = load_contract(GOOD / "overlay_of_schema_base.yaml", env={})
    assert c.schema_dirs == (GOOD, GOOD / "sub", resources.schemas_dir())
    assert c.endpoints["custom"].schema == "custom.schema.json"


# --- secrets --------------------------------------------------------------------------------------

def test_secrets_are_collected(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + "  headers:\n    Authorization: Bearer ${FAKEAI_API_KEY:-}\n"
                 "    X-Plain: visible-header\nvars:\n  db_password: hunter2\n  empty_token: ''\n  region: eu\n"
                 "description: ${MY_SECRET:-}\n")
    c = load_contract(path, env={"FAKEAI_API_KEY": "sk-live-123", "MY_SECRET": "s3cr3t"})
    assert {"Bearer sk-live-123", "sk-live-123", "hunter2", "s3cr3t", "visible-header"} <= c.secrets
    assert "eu" not in c.secrets and "" not in c.secrets


def test_no_empty_secret_without_a_key(tmp_path):
    path = write(tmp_path, "s.yaml", HEAD + "  headers: {Authorization: 'Bearer ${FAKEAI_API_KEY:-}'}\n")
    assert load_contract(path, env={}).secrets == frozenset()


# --- safety -----------------------------------------------------------------------------------------

def test_python_tag_never_runs(tmp_path):
    marker = tmp_path / "ran"
    path = write(tmp_path, "p.yaml", HEAD + f"description: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ContractError):
        load_contract(path, env={})
    assert not marker.exists()


def test_yaml_merge_keys_and_anchors(tmp_path):
    path = write(tmp_path, "m.yaml", HEAD + "endpoints:\n  a: &ep {path: /a, format: json}\n"
                 "  b: {<<: *ep, path: /b}\n")
    eps = load_contract(path, env={}).endpoints
    assert eps["b"].path == "/b" and eps["b"].format == "json"


def test_load_is_importable_without_side_effects():
    result = subprocess.run([sys.executable, "-c", "import fakeai_contract.contract.build"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == ""


@pytest.mark.parametrize("name", resources.shipped_contract_names())
def test_every_shipped_contract_loads(name):
    contract = load_contract(name, env={})
    assert contract.source == resources.shipped_contract(name) and contract.endpoints


def test_error_renders_location_source_line_caret_and_fix(tmp_path):
    path = write(tmp_path, "r.yaml", HEAD + "  request_timeout: soon\n")
    with pytest.raises(ContractError) as info:
        load_contract(path, env={})
    lines = info.value.render().splitlines()
    assert lines[0] == f"error: {path}:4:20: target.request_timeout: expected a number, got 'soon'"
    assert lines[1] == "   4 |   request_timeout: soon"
    assert lines[2] == " " * 26 + "^"
    assert lines[3] == '  fix: write request_timeout: 15 or request_timeout: "${REQUEST_TIMEOUT:-15}"'
