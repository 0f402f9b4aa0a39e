"""The seed's hand-written test, reduced to its network work: the benchmark's baseline.

Run as `python3 seed_baseline.py BASE_URL`: one health GET, 10 non-streaming and 10 streaming chat
requests one after another (streams read with iter_lines) over the seed's five models, the seed's
fixed one-second settle, then the five metrics GETs. Exit 0 when every answer was 2xx.
"""

from __future__ import annotations

import sys
import time

import requests

MODELS = ("gpt-4", "gpt-4-turbo", "gpt-3.5-turbo", "claude-3-opus", "claude-3-sonnet")
METRICS = ("/metrics", "/metrics/events", "/metrics/errors", "/metrics/streaming", "/metrics/slo")
CHAT = "/v1/chat/completions"
TIMEOUT = 15
SETTLE_S = 1.0


def _body(n: int, stream: bool) -> dict:
    text = (f"Streaming test {n}: Count from 1 to 5." if stream
            else f"Test request {n}: Please respond with a brief greeting.")
    return {"model": MODELS[(n - 1) % len(MODELS)], "messages": [{"role": "user", "content": text}],
            "max_tokens": 50, "temperature": 0.7, "stream": stream}


def run(base_url: str) -> int:
    """Do the seed's requests against BASE_URL; the number of answers that were not 2xx."""
    bad = 0
    # A keep-alive session: the faster of the two ways the seed could have been written.
    with requests.Session() as s:
        s.trust_env = False
        bad += not s.get(base_url + "/health", timeout=TIMEOUT).ok
        for n in range(1, 11):
            r = s.post(base_url + CHAT, json=_body(n, False), timeout=TIMEOUT)
            bad += not r.ok
            r.json()
        for n in range(1, 11):
            with s.post(base_url + CHAT, json=_body(n, True), timeout=TIMEOUT, stream=True) as r:
                bad += not r.ok
                chunks = sum(1 for line in r.iter_lines() if line.startswith(b"data: "))
                bad += chunks == 0
        time.sleep(SETTLE_S)   # the seed's fixed wait for event processing
        for path in METRICS:
            r = s.get(base_url + path, timeout=TIMEOUT)
            bad += not r.ok
            r.json()
    return bad


if __name__ == "__main__":
    sys.exit(1 if run(sys.argv[1].rstrip("/")) else 0)
