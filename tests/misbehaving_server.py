"""A small OpenAI-compatible test server on raw asyncio sockets that can misbehave on purpose.

By default it answers `/health`, `/v1/chat/completions` (JSON and SSE) and the five metrics
endpoints of the shipped contract correctly, with counts consistent with what it served. Given a
MODE it breaks one thing the way real servers do: resets, truncations, stalls, trickles, huge
bodies, gzip bombs and bodies that are not gzip, another protocol on the port, redirect loops,
NaN and absurdly nested JSON, wrong types, lying counts.
Raw sockets, because a framework would not let it misbehave. Run it as a process with
`python tests/misbehaving_server.py MODE --port P` (see `main`).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Awaitable, Callable

#: Every way the server can misbehave, one per run ("ok" behaves).
MODES = (
    "ok", "health_503", "health_html", "chat_500", "chat_not_json", "chat_reset", "stream_truncated",
    "stream_stall", "stream_invalid_json", "metrics_invalid_json", "metrics_wrong_types",
    "metrics_hang", "metrics_trickle", "metrics_huge", "metrics_huge_chunked", "redirect_loop",
    "counts_disagree", "events_never_published", "metrics_nan", "metrics_deep", "metrics_gzip_bomb",
    "redirect_elsewhere", "wrong_model", "bad_usage", "health_empty", "metrics_bad_gzip",
    "metrics_not_http", "text_bad_shape", "embed_bad_shape", "metrics_camel_case", "metrics_double_encoded",
)

HUGE_BYTES = 64 * 1024 * 1024
_BLOCK = b" " * 65536
_HOLD = 30.0           # longest a hanging answer waits for the client to give up
_MAX_HEADER = 64 * 1024
_TOKENS = ("Hello", " from", " the", " misbehaving", " server")
_REASONS = {200: "OK", 302: "Found", 404: "Not Found", 500: "Internal Server Error",
            503: "Service Unavailable"}


@dataclass
class Counters:
    """What the server served, so its metrics are consistent with it."""

    requests: int = 0
    errors: int = 0
    streams: int = 0
    streams_ok: int = 0
    streams_failed: int = 0
    latency_sum: float = 0.0
    started: float = field(default_factory=time.monotonic)


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class MisbehavingServer:
    """Serve on 127.0.0.1 in a background thread: `with MisbehavingServer(mode) as server: server.url`."""

    def __init__(self, mode: str = "ok"):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        self.counters = Counters()
        self.seen_headers: list[dict[str, str]] = []    # headers of every request, for assertions
        self.seen_paths: list[str] = []                 # "METHOD /path" of every request
        self.error_message = "The server had an error (test mode chat_500)."
        self.nesting = 100_000      # metrics_deep: far deeper than any recursive decoder allows
        self.latency = 0.0          # seconds before each chat answer
        self.redirect_to = ""       # redirect_elsewhere: the base URL /metrics is redirected to
        # GET /v1/models: None is 404 (not served), "hang" never answers, else (status, type, body)
        self.models_answer: tuple[int, str, bytes] | str | None = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"misbehaving-{mode}",
                                        daemon=True)
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> "MisbehavingServer":
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connection, "127.0.0.1", port, limit=_MAX_HEADER), self._loop)
        self._server = future.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "MisbehavingServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP -----------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            request = await _read_request(reader)
            if request is not None:
                with self._lock:
                    self.seen_headers.append(request.headers)
                    self.seen_paths.append(f"{request.method} {request.path}")
                await self._route(request)(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass            # the client went away: nothing to answer
        except asyncio.CancelledError:
            pass            # the server is stopping
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    def _route(self, request: Request) -> Handler:
        path = request.path.split("?", 1)[0]
        if path == "/v1/chat/completions" and request.method == "POST":
            return self._chat
        if path in ("/v1/completions", "/v1/embeddings") and request.method == "POST":
            return self._text if path == "/v1/completions" else self._embed
        table = {"/health": self._health, "/v1/models": self._models, **{p: self._metrics for p in METRIC_PATHS}}
        return table.get(path, _not_found)

    async def _health(self, request: Request, reader, writer) -> None:
        if self.mode == "health_503":
            await _send_json(writer, {"status": "starting", "ready": False}, status=503)
        elif self.mode == "health_html":
            await _send(writer, 200, "text/html", b"<html><body><h1>It works!</h1></body></html>")
        elif self.mode == "health_empty":
            await _send(writer, 200, "text/plain", b"")      # vLLM's and llama.cpp's /health
        else:
            await _send_json(writer, {"status": "healthy", "ready": True})

    async def _models(self, request: Request, reader, writer) -> None:
        answer = self.models_answer
        if answer is None:
            await _not_found(request, reader, writer)
        elif answer == "hang":
            await _hold(reader)
        else:
            await _send(writer, *answer)

    # -- text completions and embeddings -------------------------------------------------

    async def _text(self, request: Request, reader, writer) -> None:
        """POST /v1/completions; text_bad_shape: the text is missing (JSON) or a number (chunks)."""
        body = json.loads(request.body or b"{}")
        model, bad = self._answered(body), self.mode == "text_bad_shape"
        if not body.get("stream"):
            doc = _text_doc(model, [{"text": "".join(_TOKENS), "index": 0, "logprobs": None, "finish_reason": "stop"}])
            if bad:
                del doc["choices"][0]["text"]
            await _send_json(writer, doc)
            return
        chunks = [_text_doc(model, [{"text": 7 if bad else t, "index": 0, "logprobs": None, "finish_reason": None}],
                            usage=False) for t in _TOKENS]
        chunks.append(_text_doc(model, [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}], usage=False))
        writer.write(_head(200, "text/event-stream", None))
        for doc in chunks:
            writer.write(_chunked(b"data: " + json.dumps(doc).encode() + b"\n\n"))
        writer.write(_chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()

    def _answered(self, body: dict) -> str:
        return "some-other-model" if self.mode == "wrong_model" else body.get("model", "gpt-4")

    async def _embed(self, request: Request, reader, writer) -> None:
        """POST /v1/embeddings; embed_bad_shape: a string embedding and a total that is not the prompt."""
        body = json.loads(request.body or b"{}")
        bad = self.mode == "embed_bad_shape"
        await _send_json(writer, {"object": "list", "model": self._answered(body),
                                  "data": [{"object": "embedding", "index": 0,
                                            "embedding": "AAAAAA==" if bad else [0.6, 0.8]}],
                                  "usage": {"prompt_tokens": 3, "total_tokens": 4 if bad else 3}})

    # -- chat -----------------------------------------------------------------------------

    async def _chat(self, request: Request, reader, writer) -> None:
        t0 = time.monotonic()
        body = json.loads(request.body or b"{}")
        model = body.get("model", "gpt-4")
        stream = bool(body.get("stream"))
        if self.latency:
            await asyncio.sleep(self.latency)
        ok = await self._answer_chat(model, stream, reader, writer)
        with self._lock:
            c = self.counters
            c.requests += 1
            c.errors += 0 if ok else 1
            c.latency_sum += time.monotonic() - t0
            if stream:
                c.streams += 1
                c.streams_ok += 1 if ok else 0
                c.streams_failed += 0 if ok else 1

    async def _answer_chat(self, model: str, stream: bool, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        mode = self.mode
        if mode == "chat_500":
            await _send_json(writer, {"error": {"message": self.error_message, "type": "server_error",
                                                "code": "internal_error"}}, status=500)
            return False
        if mode == "chat_not_json":
            await _send(writer, 200, "text/plain", b"Sorry, I only speak plain text today.")
            return True
        if mode == "chat_reset" and not stream:
            _reset(writer)                          # the request was read; no answer at all
            return False
        answered = "some-other-model" if mode == "wrong_model" else model
        if not stream:
            doc = _completion(answered)
            if mode == "bad_usage":
                doc["usage"]["total_tokens"] += 1          # prompt + completion no longer adds up
            await _send_json(writer, doc)
            return True
        return await self._stream(answered, reader, writer)

    async def _stream(self, model: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        chunks = [_chunk(model, {"role": "assistant", "content": ""})]
        chunks += [_chunk(model, {"content": t}) for t in _TOKENS]
        chunks += [_chunk(model, {}, finish="stop"), _usage_chunk(model, self.mode == "bad_usage"),
                   b"data: [DONE]\n\n"]
        if self.mode == "stream_invalid_json":
            chunks[2] = b'data: {"id": "chatcmpl-1", "choices": [\n\n'
        writer.write(_head(200, "text/event-stream", None))
        for i, chunk in enumerate(chunks):
            if self.mode == "stream_truncated" and i == 3:
                break                               # ends cleanly, but before [DONE]
            writer.write(_chunked(chunk))
            await writer.drain()
            if self.mode == "chat_reset" and i == 1:
                _reset(writer)                      # two chunks in, then an RST
                return False
            if self.mode == "stream_stall" and i == 0:
                await _hold(reader)
                return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return self.mode not in ("stream_truncated", "stream_invalid_json")

    # -- metrics --------------------------------------------------------------------------

    async def _metrics(self, request: Request, reader, writer) -> None:
        path = request.path.split("?", 1)[0]
        special = _METRICS_FAULTS.get(self.mode) if path == "/metrics" else None
        if special is not None:
            await special(self, reader, writer)
            return
        await _send_json(writer, self.metrics_document(path))

    def metrics_document(self, path: str) -> dict:
        """The document PATH serves, from the counters (and the mode's lies)."""
        with self._lock:
            c = Counters(**vars(self.counters))
        rate = c.errors / c.requests if c.requests else 0.0
        published = 0 if self.mode == "events_never_published" else 2 * c.requests
        docs = {
            "/metrics": {"total_requests": c.requests + (10 if self.mode == "counts_disagree" else 0),
                         "requests_per_second": c.requests / max(time.monotonic() - c.started, 1e-6),
                         "avg_response_time": c.latency_sum / c.requests if c.requests else None},
            "/metrics/events": {"events_published": published, "events_processed": published,
                                "queue_depth": 0},
            "/metrics/errors": {"total_requests": c.requests, "total_errors": c.errors, "error_rate": rate},
            "/metrics/streaming": {"total_streams": c.streams, "successful_streams": c.streams_ok,
                                   "failed_streams": c.streams_failed,
                                   "ttft_percentiles": {"p50": 0.001, "p90": 0.002, "p99": 0.003}
                                   if c.streams else None},
            "/metrics/slo": {"success_rate": 1.0 - rate, "error_budget_remaining": 0.01 - rate,
                             "slo_target": 0.99},
        }
        doc = docs[path]
        if self.mode == "metrics_wrong_types" and path == "/metrics":
            doc.update(total_requests=str(c.requests), requests_per_second=None)
        if self.mode == "metrics_wrong_types" and path == "/metrics/errors":
            doc.update(total_errors=str(c.errors), error_rate=None)
        if self.mode == "metrics_nan" and path == "/metrics":
            doc.update(requests_per_second=float("nan"), avg_response_time=float("inf"))
        if self.mode == "metrics_camel_case" and path == "/metrics":
            doc = {_camel(k): v for k, v in doc.items()}
        if self.mode == "metrics_double_encoded":
            doc = {k: json.dumps(v) for k, v in doc.items()}
        return doc

    async def _invalid_json(self, reader, writer) -> None:
        await _send(writer, 200, "application/json", b'{"total_requests": 4, "requests_per_second": ')

    async def _hang(self, reader, writer) -> None:
        await _hold(reader)

    async def _trickle(self, reader, writer) -> None:
        body = json.dumps(self.metrics_document("/metrics")).encode()
        writer.write(_head(200, "application/json", len(body)))
        for i in range(len(body)):
            writer.write(body[i:i + 1])
            await writer.drain()
            await asyncio.sleep(1.0)

    async def _huge(self, reader, writer) -> None:
        await _stream_filler(writer, announce=True)

    async def _huge_chunked(self, reader, writer) -> None:
        await _stream_filler(writer, announce=False)

    async def _deep(self, reader, writer) -> None:
        doc = json.dumps(self.metrics_document("/metrics"))
        depth = self.nesting
        await _send(writer, 200, "application/json",
                    (doc[:-1] + ', "nested": ' + "[" * depth + "]" * depth + "}").encode())

    async def _gzip_bomb(self, reader, writer) -> None:
        body = _gzip_of_zeros(HUGE_BYTES)
        writer.write(_head(200, "application/json", len(body), extra="Content-Encoding: gzip\r\n") + body)
        await writer.drain()

    async def _bad_gzip(self, reader, writer) -> None:
        body = json.dumps(self.metrics_document("/metrics")).encode()      # says gzip, is not
        writer.write(_head(200, "application/json", len(body), extra="Content-Encoding: gzip\r\n") + body)
        await writer.drain()

    async def _not_http(self, reader, writer) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")      # another protocol on the port
        await writer.drain()

    async def _redirect_elsewhere(self, reader, writer) -> None:
        writer.write(f"HTTP/1.1 302 Found\r\nLocation: {self.redirect_to}/metrics\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()

    async def _redirect(self, reader, writer) -> None:
        writer.write(b"HTTP/1.1 302 Found\r\nLocation: /metrics?again=1\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        await writer.drain()


Handler = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
METRIC_PATHS = ("/metrics", "/metrics/events", "/metrics/errors", "/metrics/streaming", "/metrics/slo")

#: mode → how /metrics misbehaves in it
_METRICS_FAULTS: dict[str, Callable[[MisbehavingServer, asyncio.StreamReader, asyncio.StreamWriter],
                                    Awaitable[None]]] = {
    "metrics_invalid_json": MisbehavingServer._invalid_json,
    "metrics_hang": MisbehavingServer._hang,
    "metrics_trickle": MisbehavingServer._trickle,
    "metrics_huge": MisbehavingServer._huge,
    "metrics_huge_chunked": MisbehavingServer._huge_chunked,
    "redirect_loop": MisbehavingServer._redirect,
    "metrics_deep": MisbehavingServer._deep,
    "metrics_gzip_bomb": MisbehavingServer._gzip_bomb,
    "redirect_elsewhere": MisbehavingServer._redirect_elsewhere,
    "metrics_bad_gzip": MisbehavingServer._bad_gzip,
    "metrics_not_http": MisbehavingServer._not_http,
}


def _camel(name: str) -> str:
    """NAME in lowerCamelCase, as protobuf's JSON mapping and many serializers write field names."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)



# -- wire helpers -------------------------------------------------------------------------

async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, headers, body)


def _head(status: int, ctype: str, length: int | None, extra: str = "") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\nContent-Type: {ctype}\r\n"
            f"{extra}{framing}\r\nConnection: close\r\n\r\n").encode()


def _gzip_of_zeros(size: int) -> bytes:
    """SIZE zero bytes gzip-compressed (about a thousandth of SIZE), compressed a block at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _send(writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
    writer.write(_head(status, ctype, len(body)) + body)
    await writer.drain()


async def _send_json(writer: asyncio.StreamWriter, doc: object, status: int = 200) -> None:
    await _send(writer, status, "application/json", json.dumps(doc).encode())


async def _not_found(request: Request, reader, writer) -> None:
    await _send_json(writer, {"detail": "Not Found"}, status=404)


async def _hold(reader: asyncio.StreamReader) -> None:
    """Answer nothing more until the client hangs up (or a generous cap passes)."""
    try:
        await asyncio.wait_for(reader.read(), _HOLD)
    except (asyncio.TimeoutError, ConnectionError):
        pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0), as a crashed server or a proxy does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _stream_filler(writer: asyncio.StreamWriter, *, announce: bool) -> None:
    """A 64 MB body, written a block at a time: never built in memory."""
    writer.write(_head(200, "application/json", HUGE_BYTES if announce else None))
    sent = 0
    while sent < HUGE_BYTES:
        block = _BLOCK[:HUGE_BYTES - sent]
        writer.write(block if announce else _chunked(block))
        await writer.drain()
        sent += len(block)
    if not announce:
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _completion(model: str) -> dict:
    return {"id": "chatcmpl-misbehaving", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(_TOKENS)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": len(_TOKENS), "total_tokens": 9 + len(_TOKENS)}}


def _text_doc(model: str, choices: list, usage: bool = True) -> dict:
    doc = {"id": "cmpl-misbehaving", "object": "text_completion", "created": int(time.time()), "model": model,
           "choices": choices}
    if usage:
        doc["usage"] = {"prompt_tokens": 3, "completion_tokens": len(_TOKENS), "total_tokens": 3 + len(_TOKENS)}
    return doc


def _chunk(model: str, delta: dict, finish: str | None = None) -> bytes:
    doc = {"id": "chatcmpl-misbehaving", "object": "chat.completion.chunk", "created": int(time.time()),
           "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def _usage_chunk(model: str, wrong_total: bool = False) -> bytes:
    doc = {"id": "chatcmpl-misbehaving", "object": "chat.completion.chunk", "created": int(time.time()),
           "model": model, "choices": [],
           "usage": {"prompt_tokens": 9, "completion_tokens": len(_TOKENS),
                     "total_tokens": 9 + len(_TOKENS) + (1 if wrong_total else 0)}}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def main(argv: list[str] | None = None) -> None:
    """Run as a process: `python tests/misbehaving_server.py MODE --port P [--ignore-sigterm]`."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each chat answer")
    parser.add_argument("--ignore-sigterm", action="store_true",
                        help="ignore SIGTERM, as a wedged server does (only SIGKILL stops it)")
    args = parser.parse_args(argv)
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, lambda *_: print("SIGTERM received and ignored", flush=True))
    server = MisbehavingServer(args.mode)
    server.latency = args.latency
    server.start(args.port)
    print(f"misbehaving server ({args.mode}) listening on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
