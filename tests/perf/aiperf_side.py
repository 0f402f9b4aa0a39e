"""AIPerf (NVIDIA's LLM benchmark client) run the way the benchmark runs the runner, for a side by side.

AIPerf is not a dependency of this project: it is found through `--aiperf PATH` or the
FAKEAI_BENCH_AIPERF environment variable (its own virtualenv, as its dependencies are many). It
needs a tokenizer to count tokens; a word-level one is built here with the `tokenizers` package
from AIPerf's own environment and saved to a folder, so nothing is downloaded. The reference
server sends one word per token, so this tokenizer counts exactly the server's tokens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from fakeai_contract.reference.completion import TEXT

ENV = "FAKEAI_BENCH_AIPERF"
MODEL = "gpt-4"

_BUILD = """
import json, sys
from tokenizers import Tokenizer, models, pre_tokenizers
folder, words = sys.argv[1], json.loads(sys.argv[2])
vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
tok.save(folder + "/tokenizer.json")
with open(folder + "/tokenizer_config.json", "w") as f:
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "[UNK]",
               "model_max_length": 1000000}, f)
assert len(tok.encode(" ".join(words)).ids) == len(words)
"""


def find(option: str | None) -> str | None:
    """The aiperf executable from --aiperf or $FAKEAI_BENCH_AIPERF (a path or a name on PATH), or None."""
    given = option or os.environ.get(ENV)
    if not given:
        return None
    path = shutil.which(given)
    return path if path and os.access(path, os.X_OK) else None


def interpreter(aiperf: str) -> str:
    """The Python that runs AIPERF (from its script's #! line): it has `tokenizers`."""
    first = Path(aiperf).read_bytes().split(b"\n", 1)[0]
    if first.startswith(b"#!"):
        return first[2:].decode().strip().split()[0]
    return str(Path(aiperf).with_name("python"))


def build_tokenizer(aiperf: str, folder: Path) -> Path:
    """A word-level tokenizer over the reference server's words, saved in FOLDER."""
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted(set(TEXT.split()))
    subprocess.run([interpreter(aiperf), "-c", _BUILD, str(folder), json.dumps(words)], check=True,
                   capture_output=True, timeout=120)
    return folder


def argv(aiperf: str, url: str, *, streams: int, concurrency: int, max_tokens: int, tokenizer: Path,
         artifacts: Path) -> list[str]:
    """An AIPerf streaming run: STREAMS chat streams at CONCURRENCY, MAX_TOKENS each, with the
    least it can do besides (no UI, no server-metrics or GPU polling, summary export only)."""
    return [aiperf, "profile", "--model", MODEL, "--url", url, "--endpoint-type", "chat", "--streaming",
            "--concurrency", str(concurrency), "--request-count", str(streams),
            "--prompt-output-tokens-mean", str(max_tokens), "--prompt-input-tokens-mean", "8",
            "--tokenizer", str(tokenizer), "--ui", "none", "--no-server-metrics", "--no-gpu-telemetry",
            "--export-level", "summary", "--output-artifact-dir", str(artifacts)]


def environment() -> dict[str, str]:
    """AIPerf's environment: the tokenizer is a local folder; nothing may be fetched."""
    env = dict(os.environ)
    # HF_HUB_OFFLINE makes AIPerf look the folder up in the hub's cache instead of reading it;
    # a path loads locally without it. The hub's address is made unreachable instead.
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_HUB_DISABLE_TELEMETRY="1", DO_NOT_TRACK="1")
    return env


def results(artifacts: Path) -> dict[str, float | int | None]:
    """TTFT and ITL p50 (seconds), requests and errors from AIPerf's summary export."""
    doc = json.loads((artifacts / "profile_export_aiperf.json").read_text())

    def p50(key: str) -> float | None:
        metric = doc.get(key) or {}
        return None if metric.get("p50") is None else metric["p50"] / 1000   # AIPerf reports ms
    count = (doc.get("request_count") or {}).get("avg")
    return {"ttft_p50_s": p50("time_to_first_token"), "itl_p50_s": p50("inter_token_latency"),
            "requests": int(count) if count is not None else None,
            "errors": len((doc.get("error_summary") or []))}
