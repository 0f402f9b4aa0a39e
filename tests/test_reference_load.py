"""Concurrency: 200 simultaneous streams all finish with [DONE] and every counter adds up exactly."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from fakeai_contract.reference import DEFAULT_MODELS, ReferenceOptions, ReferenceServer

from tests.reference_helpers import CHAT, chat_body, drained, json_chunks, parse_sse, session

pytestmark = pytest.mark.timeout(120)

STREAMS = 200
PLAIN = 50
MAX_TOKENS = 12


async def _stream(client: aiohttp.ClientSession, url: str, i: int) -> list[bytes]:
    body = chat_body(model=DEFAULT_MODELS[i % len(DEFAULT_MODELS)], stream=True, max_tokens=MAX_TOKENS,
                     stream_options={"include_usage": True})
    async with client.post(url, json=body) as r:
        assert r.status == 200
        return parse_sse(await r.read())


async def _plain(client: aiohttp.ClientSession, url: str) -> int:
    async with client.post(url, json=chat_body(max_tokens=MAX_TOKENS)) as r:
        await r.read()
        return r.status


async def _load(base_url: str):
    connector = aiohttp.TCPConnector(limit=STREAMS + PLAIN)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        url = base_url + CHAT
        return await asyncio.wait_for(asyncio.gather(
            asyncio.gather(*(_stream(client, url, i) for i in range(STREAMS))),
            asyncio.gather(*(_plain(client, url) for _ in range(PLAIN)))), timeout=90)


def test_200_concurrent_streams_end_with_done_and_counters_add_up():
    with ReferenceServer(ReferenceOptions()) as srv, session() as http:
        streams, plain = asyncio.run(_load(srv.base_url))
        assert plain == [200] * PLAIN
        for payloads in streams:
            assert payloads[-1] == b"[DONE]" and payloads.count(b"[DONE]") == 1
            chunks = json_chunks(payloads)
            assert chunks[-1]["usage"]["completion_tokens"] == MAX_TOKENS
            assert len(chunks) == 1 + MAX_TOKENS + 1 + 1
        snap = drained(http, srv.base_url, timeout=10)
        total = STREAMS + PLAIN
        metrics, errors, streaming, events = snap["metrics"], snap["errors"], snap["streaming"], snap["events"]
        assert metrics["total_requests"] == errors["total_requests"] == snap["slo"]["total_requests"] == total
        assert metrics["successful_requests"] == total and errors["total_errors"] == 0
        assert metrics["active_requests"] == 0
        assert streaming["total_streams"] == streaming["successful_streams"] == STREAMS
        assert streaming["failed_streams"] == streaming["active_streams"] == 0
        assert streaming["total_chunks"] == STREAMS * (MAX_TOKENS + 3)
        assert sum(m["streams"] for m in streaming["by_model"].values()) == STREAMS
        assert metrics["total_tokens"]["completion"] == total * MAX_TOKENS
        assert events["events_published"] == events["events_processed"] == total * 2 + STREAMS * 3
        assert events["queue_depth"] == 0
