"""The transport reads sockets in buffers of READ_SIZE, and a body or stream larger than one
buffer still arrives whole: against an in-process server on 127.0.0.1 that writes its answers
in one go (the firehose test server's own handler)."""

from __future__ import annotations

import asyncio
import json

from fakeai_contract.model import Target
from fakeai_contract.transport import READ_SIZE, Transport
from tests.firehose_server import _json_response, _serve, _stream_body

CHUNKS = 2000       # about 200 KB of stream: several reads of READ_SIZE


def _pooled_transports(transport: Transport) -> list:
    conns = transport._session.connector._conns       # aiohttp's keep-alive pool
    return [proto.transport for entries in conns.values() for proto, _ in entries]


async def _against(handle, check) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with asyncio.timeout(20):
            async with Transport(Target(base_url=f"http://127.0.0.1:{port}")) as transport:
                await check(transport)
    finally:
        server.close()
        await server.wait_closed()


def test_a_stream_longer_than_one_read_is_parsed_whole_with_small_reads():
    async def check(transport):
        res = await transport.stream("/v1/chat/completions", {"model": "gpt-4", "stream": True, "messages": []})
        assert res.ok, res.error
        assert res.chunks == CHUNKS + 2 and res.done and res.finish_reason == "length"
        assert res.bytes > 2 * READ_SIZE
        pooled = _pooled_transports(transport)
        assert pooled and all(t.max_size == READ_SIZE for t in pooled)
    stream = _stream_body(CHUNKS)
    asyncio.run(_against(lambda r, w: _serve(r, w, stream), check))


def test_a_body_larger_than_one_read_arrives_whole():
    async def check(transport):
        res = await transport.fetch("/big")
        assert res.ok, res.error
        assert len(res.document["pad"]) == 3 * READ_SIZE
    big = _json_response(json.dumps({"model": "gpt-4", "pad": "x" * (3 * READ_SIZE)}).encode())

    async def one_big_answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(big)
        await writer.drain()
        writer.close()
    asyncio.run(_against(one_big_answer, check))
