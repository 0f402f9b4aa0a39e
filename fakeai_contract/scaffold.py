"""`init`: a commented starter contract and copies of the schemas it names, to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

from fakeai_contract.errors import UsageError
from fakeai_contract.resources import schemas_dir

STARTER = """\
# yaml-language-server: $schema={schema}
# A starter contract: edit it, then `fakeai-contract lint contract.yaml` and
# `fakeai-contract run contract.yaml --base-url http://127.0.0.1:8000`.
contract: my-llm-server
version: 1
description: Health, a small request mix, one metrics endpoint and its consistency with the traffic.
# To start from the shipped FakeAI contract instead, write:  extends: [fakeai-final]
vars:
  host: ${{FAKEAI_HOST:-127.0.0.1}}
target:
  base_url: http://${{host}}:${{FAKEAI_PORT:-8765}}
  headers: {{Authorization: "Bearer ${{OPENAI_API_KEY:-none}}"}}   # redacted in every report
  request_timeout: ${{REQUEST_TIMEOUT:-15}}    # seconds, whole request including the stream
health:
  path: /health
  timeout: ${{SERVER_TIMEOUT:-45}}
  interval: 0.5
  schema: health.schema.json                   # found beside this file first, then shipped
load:
  path: /v1/chat/completions
  models: [gpt-4, gpt-3.5-turbo]               # assigned to the requests in turn
  concurrency: 4
  mix:
    - name: non-streaming
      count: 4
      body: {{messages: [{{role: user, content: "Request {{n}} for {{model}}: say hello."}}], max_tokens: 20}}
      response_schema: chat_completion.schema.json
    - name: streaming
      count: 4
      body: {{messages: [{{role: user, content: "Stream {{n}}: count to 5."}}], max_tokens: 20, stream: true,
             stream_options: {{include_usage: true}}}}
      chunk_schema: chat_completion_chunk.schema.json
settle:                                        # wait for the server's metrics to catch up
  until: "events.queue_depth == `0`"
  timeout: 5
endpoints:
  metrics: {{path: /metrics, schema: metrics.schema.json}}
  events:  {{path: /metrics/events, schema: metrics_events.schema.json}}
checks:
  # JMESPath over the evaluation document: <endpoint>, before.<endpoint>, delta.<endpoint>, client, vars
  - name: Server counted every request we sent
    that: delta.metrics.total_requests
    equals: client.requests.total
    tags: [consistency]
  - name: First token arrives quickly
    that: client.ttft_s.p99
    lt: 0.5
    tags: [latency]
  - name: Event bus drained
    that: events.queue_depth
    equals: 0
    eventually: {{timeout: 3, interval: 0.2}}
logs:                                          # needs --serve, --serve-reference or --log-file
  fail_on: ['Traceback \\(most recent call last\\)', '\\bCRITICAL\\b', '\\bERROR\\b']
  ignore: []
"""

#: contract.schema.json is copied too, so the editor hint resolves on every machine the folder is
#: shared to (an absolute path into one virtualenv would not).
_CONTRACT_SCHEMA = "contract.schema.json"
_SCHEMAS = ("health.schema.json", "metrics.schema.json", "metrics_events.schema.json",
            "chat_completion.schema.json", "chat_completion_chunk.schema.json", _CONTRACT_SCHEMA)


def scaffold(folder: Path) -> list[Path]:
    """Write the starter files into FOLDER; refuse to overwrite anything."""
    targets = [folder / "contract.yaml"] + [folder / name for name in _SCHEMAS]
    existing = [p for p in targets if p.exists()]
    if existing:
        raise UsageError(f"{existing[0]} already exists; init writes only new files: "
                         f"choose an empty folder, e.g. fakeai-contract init my-contract")
    folder.mkdir(parents=True, exist_ok=True)
    shipped = schemas_dir()
    targets[0].write_text(STARTER.format(schema=_CONTRACT_SCHEMA), encoding="utf-8")
    for name in _SCHEMAS:
        shutil.copyfile(shipped / name, folder / name)
    return targets
