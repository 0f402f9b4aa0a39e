"""An in-memory HttpClient for the phases' unit tests: scripted answers, the real decoding, no sockets.

A route answers `(method, path)` with an `Answer`, a list of them (one per call, the last repeated)
or a function of the request body. Bodies and SSE arrivals go through the transport's own decoding
(`_decode`, the SSE parser and chunk handling of `Transport._consume`), so what a phase sees is what
the real transport would make of those bytes; only the socket is missing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from fakeai_contract import transport as real
from fakeai_contract.model import Target
from fakeai_contract.transport_failures import Failure, Kind


@dataclass
class Answer:
    """What the server sends: a status and a body (bytes, or a document sent as JSON), or SSE arrivals."""

    status: int = 200
    body: Any = b""
    content_type: str = "application/json"
    arrivals: list[bytes] | None = None          # a stream: the bytes of each read
    failure: Failure | None = None               # a network failure instead of an answer

    def raw(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


def refused() -> Answer:
    """Nothing listens: the transport's failure for a refused connection."""
    return Answer(failure=Failure(Kind.CONNECT, "cannot connect: Connection refused"))


Route = Union[Answer, list, Callable[[Any], Answer]]


@dataclass
class FakeTransport:
    """Implements transport.HttpClient over ROUTES; `calls` lists every (method, path, body) asked."""

    routes: dict[tuple[str, str], Route]
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    _served: dict[tuple[str, str], int] = field(default_factory=dict)

    def _answer(self, method: str, path: str, body: Any) -> Answer:
        self.calls.append((method, path, body))
        key = (method, path)
        route = self.routes.get(key, Answer(404, {"error": {"message": f"no route {method} {path}"}}))
        n = self._served[key] = self._served.get(key, 0) + 1
        if isinstance(route, list):
            return route[min(n, len(route)) - 1]
        return route(body) if callable(route) else route

    async def fetch(self, path: str, *, method: str = "GET", body: Any = None, fmt: str = "json",
                    timeout: float | None = None, headers: dict[str, str] | None = None) -> real.Fetched:
        answer = self._answer(method, path, body)
        result = real.Fetched(url=path, ok=False)
        if answer.failure is not None:
            result.fail(answer.failure)
            return result
        raw = answer.raw()
        result.http_status, result.content_type, result.bytes = answer.status, answer.content_type, len(raw)
        real._decode(result, raw, fmt)
        return result

    async def stream(self, path: str, body: Any, *, on_chunk: real.ChunkCheck | None = None,
                     timeout: float | None = None, method: str = "POST",
                     headers: dict[str, str] | None = None) -> real.StreamResult:
        answer = self._answer(method, path, body)
        result = real.StreamResult(url=path, ok=False)
        t0 = time.monotonic()
        if answer.failure is not None:
            result.fail(answer.failure)
            return result
        result.http_status = answer.status
        if answer.arrivals is None:
            failure = real._http_problem(answer.status, answer.content_type, answer.raw(), "text/event-stream")
        else:
            reader = real.Transport(Target(base_url="http://fake.invalid"))
            failure = await reader._consume(_Response(answer.arrivals), result, on_chunk, t0)
            failure = failure or real._stream_end(result)
        result.elapsed_s = time.monotonic() - t0
        if failure is None:
            result.ok = True
        else:
            result.fail(failure)
        return result


class _Response:
    """The part of aiohttp's response `Transport._consume` reads: the body, a read at a time."""

    def __init__(self, arrivals: list[bytes]):
        self.content = self
        self._arrivals = arrivals

    async def iter_any(self):
        for data in self._arrivals:
            yield data


def sse(*chunks: dict, done: bool = True) -> list[bytes]:
    """The arrivals of a stream of CHUNKS, one read each, ended by data: [DONE] if DONE."""
    reads = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return reads + ([b"data: [DONE]\n\n"] if done else [])


def completion(model: str, content: str = "Hello there", prompt_tokens: int = 5) -> dict:
    """A valid chat completion naming MODEL."""
    words = len(content.split())
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": words, "total_tokens": prompt_tokens + words}}


def chunk(model: str, delta: dict, finish: str | None = None) -> dict:
    """A valid chat completion chunk naming MODEL."""
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def chat(model_of: Callable[[str], str] = lambda asked: asked, done: bool = True) -> Callable[[Any], Answer]:
    """A chat route: a completion, or a three-token stream, naming model_of(the model asked for)."""
    def answer(body: Any) -> Answer:
        model = model_of(body["model"])
        if not body.get("stream"):
            return Answer(body=completion(model))
        tokens = [chunk(model, {"role": "assistant", "content": ""})]
        tokens += [chunk(model, {"content": word}) for word in ("Hello", " there", "!")]
        return Answer(content_type="text/event-stream",
                      arrivals=sse(*tokens, chunk(model, {}, "stop"), done=done))
    return answer
