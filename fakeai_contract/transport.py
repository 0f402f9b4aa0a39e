"""The only network code: HTTP requests and SSE streams with deadlines, size caps and timings.

Every operation has a total deadline (connect, headers and the whole body, stream included), a
cap on the silence between reads, a cap on the body size and on redirects. Whatever the server
does, the caller gets a value describing it (`error`, and its `kind` from `transport_failures`),
never an exception. Only network errors are caught: a bug in our own decoding is raised, not
reported as the server's fault.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import aiohttp

from fakeai_contract.model import Target
from fakeai_contract.sse import Event, SSEParser
from fakeai_contract.transport_failures import NETWORK_ERRORS, BodyTooLarge, Failure, Kind, from_exception

_SNIPPET = 200


def _snippet(raw: bytes) -> str:
    text = raw[:_SNIPPET].decode("utf-8", errors="replace")
    return text + ("…" if len(raw) > _SNIPPET else "")


@dataclass(slots=True)
class Fetched:
    """A JSON (or text) document fetched with GET or POST."""

    url: str
    ok: bool
    http_status: int | None = None
    document: Any = None
    text: str | None = None           # for non-JSON formats (prometheus)
    error: str | None = None          # why it is not ok, as a user reads it
    elapsed_s: float = 0.0
    bytes: int = 0
    content_type: str = ""
    kind: Kind | None = None          # what kind of failure `error` describes

    def fail(self, failure: Failure) -> None:
        """Record FAILURE as why this fetch is not ok."""
        self.ok, self.error, self.kind = False, failure.message, failure.kind


@dataclass(slots=True)
class StreamResult:
    """What one SSE stream delivered, timed at byte arrival."""

    url: str
    ok: bool
    http_status: int | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    ttft_s: float | None = None        # request start → first non-empty content delta
    itl_s: list[float] = field(default_factory=list)
    chunks: int = 0
    done: bool = False
    finish_reason: str | None = None
    usage: dict | None = None
    model: str | None = None
    bytes: int = 0
    invalid_chunks: list[str] = field(default_factory=list)   # first schema errors, capped
    invalid_chunk_count: int = 0
    kind: Kind | None = None           # what kind of failure `error` describes

    def fail(self, failure: Failure) -> None:
        """Record FAILURE as why this stream is not ok."""
        self.ok, self.error, self.kind = False, failure.message, failure.kind


def _ssl(target: Target) -> ssl.SSLContext | bool:
    """target.tls as aiohttp's ssl argument: False skips verification, a context trusts a CA file."""
    if not target.tls_verify:
        return False
    return ssl.create_default_context(cafile=target.ca_file) if target.ca_file else True


ChunkCheck = Callable[[dict], "str | None"]


class HttpClient(Protocol):
    """What the phases need from a transport: fetch a document, consume a stream."""

    async def fetch(self, path: str, *, method: str = "GET", body: Any = None, fmt: str = "json",
                    timeout: float | None = None, headers: dict[str, str] | None = None) -> Fetched: ...

    async def stream(self, path: str, body: Any, *, on_chunk: ChunkCheck | None = None,
                     timeout: float | None = None, method: str = "POST",
                     headers: dict[str, str] | None = None) -> StreamResult: ...


#: How much one socket read may take. asyncio reads into a fresh buffer of its class default
#: (256 KiB) and shrinks it to what arrived; a buffer that size is mapped and unmapped by malloc on
#: every read, which cost a stream of small chunks more system time than parsing them. 64 KiB is
#: still more than a burst of hundreds of chunks.
READ_SIZE = 64 * 1024


def _small_reads(resp: aiohttp.ClientResponse) -> None:
    """Make the connection under RESP read at most READ_SIZE bytes at a time (it stays so when
    the connection is reused)."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    if transport is not None and getattr(transport, "max_size", None) not in (None, READ_SIZE):
        transport.max_size = READ_SIZE


def _content_of(delta: dict) -> bool:
    """A delta that carries generated output: content, reasoning, or a tool call."""
    return bool(delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
                or delta.get("tool_calls") or delta.get("function_call"))


class Transport:
    """An HTTP client bound to one target; use `async with Transport(target) as t`."""

    def __init__(self, target: Target, *, concurrency: int = 8):
        self.target = target
        self.base_url = target.base_url.rstrip("/")
        self._concurrency = max(1, concurrency)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "Transport":
        connector = aiohttp.TCPConnector(limit=self._concurrency + 4, ttl_dns_cache=300,
                                         enable_cleanup_closed=True, ssl=_ssl(self.target))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.target.connect_timeout,
                                        sock_read=self.target.read_timeout)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers=self.target.headers,
            auto_decompress=True, raise_for_status=False, trust_env=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path if path.startswith('/') else '/' + path}"

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        cap = self.target.max_body_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise BodyTooLarge(f"body of {resp.content_length} bytes exceeds the cap of {cap} bytes")
        parts: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise BodyTooLarge(f"body exceeds the cap of {cap} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def fetch(self, path: str, *, method: str = "GET", body: Any = None, fmt: str = "json",
                    timeout: float | None = None, headers: dict[str, str] | None = None) -> Fetched:
        """Fetch PATH and decode it as FMT ('json' or 'text'), within the request deadline;
        HEADERS go over the target's."""
        url = self.url(path)
        t0 = time.monotonic()
        result = Fetched(url=url, ok=False)
        deadline = timeout if timeout is not None else self.target.request_timeout
        try:
            async with asyncio.timeout(deadline):
                async with self._session.request(method, url, json=body, headers=headers,
                                                 max_redirects=self.target.max_redirects) as resp:
                    _small_reads(resp)
                    result.http_status = resp.status
                    result.content_type = resp.headers.get("Content-Type", "")
                    raw = await self._read_body(resp)
        except NETWORK_ERRORS as exc:
            result.elapsed_s = time.monotonic() - t0
            result.fail(from_exception(exc, deadline))
            return result
        result.bytes = len(raw)
        result.elapsed_s = time.monotonic() - t0
        _decode(result, raw, fmt)
        return result

    async def stream(self, path: str, body: Any, *, on_chunk: Callable[[dict], str | None] | None = None,
                     timeout: float | None = None, method: str = "POST",
                     headers: dict[str, str] | None = None) -> StreamResult:
        """Send BODY (POST unless METHOD) and consume the SSE answer, timing each chunk at byte arrival.

        ON_CHUNK validates each decoded chunk and returns an error text or None.
        """
        url = self.url(path)
        result = StreamResult(url=url, ok=False)
        deadline = timeout if timeout is not None else self.target.request_timeout
        t0 = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                async with self._session.request(method, url, json=body, max_redirects=self.target.max_redirects,
                                                 headers={"Accept": "text/event-stream", **(headers or {})}) as resp:
                    _small_reads(resp)
                    result.http_status = resp.status
                    ctype = resp.headers.get("Content-Type", "")
                    if resp.status >= 400 or "text/event-stream" not in ctype:
                        raw = await self._read_body(resp)
                        result.bytes = len(raw)
                        failure = _http_problem(resp.status, ctype, raw, "text/event-stream")
                    else:
                        failure = await self._consume(resp, result, on_chunk, t0)
        except NETWORK_ERRORS as exc:
            failure = from_exception(exc, deadline, chunks=result.chunks)
        result.elapsed_s = time.monotonic() - t0
        failure = failure or _stream_end(result)
        if failure is None:
            result.ok = True
        else:
            result.fail(failure)
        return result

    async def _consume(self, resp: aiohttp.ClientResponse, result: StreamResult, on_chunk: ChunkCheck | None,
                       t0: float) -> Failure | None:
        """Read the SSE body into RESULT until [DONE] or its end; the protocol failure it broke off at."""
        cap = self.target.max_body_bytes
        parser = SSEParser()
        now = time.monotonic
        last_token = 0.0
        itl = result.itl_s
        async for data in resp.content.iter_any():
            stamp = now()
            result.bytes += len(data)
            if result.bytes > cap:
                raise BodyTooLarge(f"stream exceeds the cap of {cap} bytes")
            tokens = 0
            for event in parser.feed(data):
                problem, found = _on_event(result, event, on_chunk)
                if problem:
                    return Failure(Kind.STREAM, problem)
                tokens += found
                if result.done:
                    break
            if tokens:
                # one stamp per arrival: every content delta in it arrived together
                if result.ttft_s is None:
                    result.ttft_s = stamp - t0
                else:
                    itl.append(stamp - last_token)
                if tokens > 1:
                    itl.extend([0.0] * (tokens - 1))
                last_token = stamp
            if result.done:
                break
        return None


def _stream_end(result: StreamResult) -> Failure | None:
    """What is wrong with how a stream that was read to its end ended, if anything."""
    if not result.done:
        return Failure(Kind.STREAM, "stream ended without data: [DONE]"
                       + (" and without a finish_reason" if result.finish_reason is None else "")
                       + f" after {result.chunks} chunks")
    if result.finish_reason is None:
        return Failure(Kind.STREAM, "stream ended with [DONE] but no chunk carried a finish_reason")
    return None


def _on_event(result: StreamResult, event: Event, on_chunk) -> tuple[str | None, int]:
    """Apply one SSE event to RESULT; return (problem, number of content deltas it carried)."""
    if event.event == "error":
        return f"server sent an error event: {event.data[:_SNIPPET]}", 0
    data = event.data
    if data == "[DONE]":
        result.done = True
        return None, 0
    try:
        chunk = strict_json(data)
    except (ValueError, RecursionError):
        return f"chunk {result.chunks + 1} is not valid JSON: {data[:_SNIPPET]!r}", 0
    if not isinstance(chunk, dict):
        return f"chunk {result.chunks + 1} is not a JSON object: {data[:_SNIPPET]!r}", 0
    if "error" in chunk:
        return f"server sent an error in the stream: {json.dumps(chunk['error'])[:_SNIPPET]}", 0
    result.chunks += 1
    if on_chunk is not None:
        problem = on_chunk(chunk)
        if problem:
            result.invalid_chunk_count += 1
            if len(result.invalid_chunks) < 5:
                result.invalid_chunks.append(f"chunk {result.chunks}: {problem}")
    if result.model is None:
        result.model = chunk.get("model")
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        result.usage = usage
    tokens = 0
    choices = chunk.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            # a chat chunk carries a delta; a text completion chunk carries its text
            if isinstance(delta, dict) and _content_of(delta) or isinstance(choice.get("text"), str) and choice["text"]:
                tokens += 1
            if choice.get("finish_reason"):
                result.finish_reason = choice["finish_reason"]
    return None, tokens


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_SCAN = _STRICT_DECODER.scan_once


def strict_json(raw: bytes | str) -> Any:
    """JSON as RFC 8259 defines it: NaN and Infinity, which Python's parser accepts, are errors."""
    # Every stream chunk comes through here. The usual one is a str holding one object and nothing
    # else: the decoder's C scanner alone reads it. Anything else (bytes, whitespace around the
    # value, extra data, invalid JSON) takes json.loads's own path, which gives its errors.
    if type(raw) is str and raw[:1] == "{":
        try:
            value, end = _SCAN(raw, 0)
        except StopIteration:
            value, end = None, -1
        if end == len(raw):
            return value
    # json.loads with a keyword builds a new decoder per call; this is its body with one decoder
    # shared.
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
    elif raw.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
    return _STRICT_DECODER.decode(raw)


def _decode(result: Fetched, raw: bytes, fmt: str) -> None:
    status = result.http_status or 0
    if status >= 400:
        result.fail(_http_problem(status, result.content_type, raw, "application/json"))
        result.document = _json_or_none(raw)
        return
    if fmt != "json":
        result.text = raw.decode("utf-8", errors="replace")
        result.ok = True
        return
    try:
        result.document = strict_json(raw)
    except (ValueError, RecursionError) as exc:
        kind = result.content_type.split(";")[0] or "no content type"
        # A JSON content type with a broken body is a different finding from HTML or plain text.
        what = f"invalid JSON ({exc})" if "json" in kind.lower() else f"expected JSON, got {kind}"
        result.fail(Failure(Kind.NOT_JSON, f"HTTP {status}: {what}: {_snippet(raw)!r}"))
        return
    result.ok = True


def _json_or_none(raw: bytes) -> Any:
    """RAW decoded as JSON, or None when it is not JSON (an error answer's body may be anything)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _http_problem(status: int, ctype: str, raw: bytes, wanted: str) -> Failure:
    if status >= 400:
        doc = _json_or_none(raw)
        message = None
        if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
            message = doc["error"].get("message")
        elif isinstance(doc, dict):
            message = doc.get("detail") or doc.get("message")
        return Failure(Kind.HTTP_STATUS, f"HTTP {status}: {message or _snippet(raw) or 'empty body'}")
    kind = ctype.split(";")[0] or "no content type"
    return Failure(Kind.CONTENT_TYPE, f"HTTP {status}: expected {wanted}, got {kind}: {_snippet(raw)!r}")
