"""Helpers for the reference server's tests: raw SSE parsing, polling, small HTTP calls."""

from __future__ import annotations

import json
from typing import Any, Callable

import requests

from tests.helpers import poll

CHAT = "/v1/chat/completions"
METRICS_PATHS = {"metrics": "/metrics", "events": "/metrics/events", "errors": "/metrics/errors",
                 "streaming": "/metrics/streaming", "slo": "/metrics/slo"}


def session() -> requests.Session:
    """A session that never goes through a proxy from the environment."""
    s = requests.Session()
    s.trust_env = False
    return s


def chat_body(model: str = "gpt-4", content: str = "Say hello to the test suite", **extra: Any) -> dict:
    """A valid chat completion body."""
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def parse_sse(raw: bytes) -> list[bytes]:
    """The data payloads of a raw SSE body, checking the framing is exactly `data: ...\\n\\n`."""
    assert raw.endswith(b"\n\n") or raw == b"", f"body does not end with a blank line: {raw[-40:]!r}"
    events = raw.split(b"\n\n")
    assert events[-1] == b""
    payloads = []
    for event in events[:-1]:
        assert event.startswith(b"data: "), f"not a data event: {event[:60]!r}"
        assert b"\n" not in event, f"multi-line event: {event[:60]!r}"
        payloads.append(event[len(b"data: "):])
    return payloads


def json_chunks(payloads: list[bytes]) -> list[dict]:
    """The JSON chunks of an SSE body, [DONE] excluded."""
    return [json.loads(p) for p in payloads if p != b"[DONE]"]


def stream_raw(s: requests.Session, base_url: str, body: dict, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """POST a streaming request; status, content type and the raw body bytes."""
    with s.post(base_url + CHAT, json=body, stream=True, timeout=timeout) as r:
        raw = b"".join(r.iter_content(chunk_size=None))
        return r.status_code, r.headers.get("content-type", ""), raw


def get_json(s: requests.Session, base_url: str, path: str) -> Any:
    """GET a JSON document (status 200 asserted)."""
    r = s.get(base_url + path, timeout=5)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def snapshot(s: requests.Session, base_url: str) -> dict[str, Any]:
    """Every metrics document, by endpoint name."""
    return {name: get_json(s, base_url, path) for name, path in METRICS_PATHS.items()}


#: The tests' one poll, under the name the reference server's tests call it by.
wait_until = poll


def drained(s: requests.Session, base_url: str, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the event queue is empty; the metrics snapshot then."""
    def probe():
        # The queue first: once it is empty it stays empty (no new traffic), so a snapshot taken
        # after that sees every event applied; a snapshot's own endpoints are read one by one.
        if get_json(s, base_url, "/metrics/events")["queue_depth"] != 0:
            return None
        return snapshot(s, base_url)
    return wait_until(probe, timeout)
