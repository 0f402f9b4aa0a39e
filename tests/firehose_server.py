"""A test server faster than any client: every answer is pre-rendered, a stream is hundreds of
chunks in one write, a non-streaming request one canned completion.

The reference server spends more CPU producing a chunk than the client spends reading it, so it
cannot show the client saturating. This one renders one stream body at start-up and writes it
whole, so the client's parsing is the bottleneck. Run: `python tests/firehose_server.py PORT CHUNKS`.
"""

from __future__ import annotations

import asyncio
import json
import sys


def _stream_body(chunks: int) -> bytes:
    def event(delta: dict, finish: str | None = None) -> bytes:
        chunk = {"id": "chatcmpl-firehose", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"
    parts = [event({"role": "assistant", "content": ""})]
    parts += [event({"content": f" t{i}"}) for i in range(chunks)]
    parts += [event({}, "length"), b"data: [DONE]\n\n"]
    body = b"".join(parts)
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _json_response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


COMPLETION = _json_response(json.dumps({
    "id": "chatcmpl-firehose", "object": "chat.completion", "created": 1, "model": "gpt-4",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}, separators=(",", ":")).encode())
HEALTH = b'{"status":"healthy","ready":true}'
HEALTH_RESPONSE = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                   + str(len(HEALTH)).encode() + b"\r\n\r\n" + HEALTH)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stream: bytes) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if head.startswith(b"GET /health"):
                writer.write(HEALTH_RESPONSE)
            elif b'"stream":true' in body.replace(b" ", b""):
                writer.write(stream)
            else:
                writer.write(COMPLETION)     # a non-streaming chat completion
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int, chunks: int) -> None:
    stream = _stream_body(chunks)
    server = await asyncio.start_server(lambda r, w: _serve(r, w, stream), "127.0.0.1", port)
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
