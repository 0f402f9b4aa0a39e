"""POST /v1/chat/completions: JSON and SSE answers, timing, faults, and the events they publish.

Every request publishes ``request.started`` and then exactly one of ``request.completed`` or
``request.failed``; a stream also publishes ``stream.started``, ``stream.first_token`` and one of
``stream.completed`` or ``stream.failed``. A stream cut by --drop-stream-rate is published as
completed: the server does not notice, which is the fault clients are meant to catch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import time
from typing import AsyncGenerator, AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .completion import DONE, OPENAI_STYLE, ChunkWriter, chat_completion, completion_tokens, new_completion_id, usage
from .faults import InjectedServerError
from .state import ReferenceState
from .validation import ApiError, ChatRequest, model_of, parse_chat_request

logger = logging.getLogger("fakeai_contract.reference")

INJECTED_ERROR = ApiError(500, "The server had an error while processing your request (injected by "
                               "--error-rate).", type="server_error", code="internal_error")
#: How a stream the client abandoned is counted (nginx's "client closed request").
CLIENT_CLOSED = ApiError(499, "The client closed the connection before the stream finished.",
                         type="client_disconnected", code="client_closed_request")

def unknown_model_error(kind: str, model: str) -> ApiError:
    """How a flavor refuses a model it does not serve."""
    if kind == "400":   # LiteLLM's router
        return ApiError(400, f"/chat/completions: Invalid model name passed in model={model}. Call `/v1/models` "
                             f"to view available models for your key.", type="invalid_request_error",
                        param="model", code="400")
    return ApiError(404, f"The model `{model}` does not exist.", type="NotFoundError", param="model",
                    code="model_not_found")


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def _sleep_until(deadline: float) -> None:
    # Sleeping to an absolute monotonic time keeps per-token overshoot from adding up; the
    # server's event loop (timing.py) wakes within tens of microseconds of it.
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class _SSEResponse(StreamingResponse):
    """An SSE response over an already started generator, which it always closes.

    The generator is started by the endpoint (it yields the role chunk), so its ``finally`` runs
    even when the client leaves before the response starts: every stream is counted once.
    """

    def __init__(self, first: bytes, rest: AsyncGenerator[bytes, None]):
        async def body() -> AsyncIterator[bytes]:
            yield first
            async for chunk in rest:
                yield chunk
        super().__init__(body(), media_type="text/event-stream", headers=SSE_HEADERS)
        self._rest = rest

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.body_iterator.aclose()
            await self._rest.aclose()


class ChatCompletions:
    """The chat completions endpoint bound to the server state (subclasses speak other APIs the
    same way: PATH, how a body is parsed, how an answer and a stream's chunks are shaped)."""

    path = "/v1/chat/completions"
    parse = staticmethod(parse_chat_request)

    def __init__(self, state: ReferenceState):
        self.state = state
        self.bus = state.bus
        self.options = state.options
        self.flavor = state.flavor
        self.style = state.flavor.style if state.flavor else OPENAI_STYLE
        self.received = 0
        self.stall_until = 0.0

    async def endpoint(self, request: Request) -> Response:
        """Answer one chat completion request."""
        arrival = time.monotonic()
        self.received += 1
        if self.options.crash_after and self.received >= self.options.crash_after:
            print(f"fatal: crashing on chat request {self.received} (--crash-after)", file=sys.stderr, flush=True)
            os._exit(70)
        if self.options.stall_after and self.received == self.options.stall_after:
            self.stall_until = time.monotonic() + self.options.stall
        if time.monotonic() < self.stall_until:
            # a stalled server (a GC pause, a model reload): nothing is answered until it ends
            await self._stalled()
        raw = await request.body()
        try:
            chat = self.parse(raw)
        except ApiError as err:
            model = model_of(raw)
            self.bus.publish("request.started", model=model, stream=False)
            return self._fail(err, model, stream=False, arrival=arrival)
        if self.flavor and chat.model != self.flavor.model:
            if self.flavor.unknown_model == "serve":
                chat = dataclasses.replace(chat, model=self.flavor.model)
            elif self.flavor.unknown_model != "echo":     # echo: served, and named as requested
                self.bus.publish("request.started", model=chat.model, stream=chat.stream)
                return self._fail(unknown_model_error(self.flavor.unknown_model, chat.model), chat.model,
                                  stream=chat.stream, arrival=arrival)
        self.state.note_model(chat.model)
        self.bus.publish("request.started", model=chat.model, stream=chat.stream)
        if self.state.faults.should_fail():
            return self._inject_error(chat, arrival)
        if chat.stream:
            return await self._stream(chat, arrival)
        return await self._complete(chat, arrival)

    def document(self, created: int, model: str, content: str, finish_reason: str,
                 usage_: dict[str, int]) -> dict:
        """The non-streaming answer."""
        return chat_completion(new_completion_id(), created, model, content, finish_reason, usage_, self.style)

    def writer(self, created: int, model: str, include_usage: bool) -> ChunkWriter:
        """What shapes one stream's chunks."""
        return ChunkWriter(new_completion_id(), created, model, include_usage, self.style)

    async def _stalled(self) -> None:
        # A flavored server counts what waits out a stall as queued, as its queue gauge would.
        if self.flavor:
            self.bus.publish("request.queued")
        try:
            await asyncio.sleep(self.stall_until - time.monotonic())
        finally:
            if self.flavor:
                self.bus.publish("request.dequeued")

    def _fail(self, err: ApiError, model: str, *, stream: bool, arrival: float) -> JSONResponse:
        self.bus.publish("request.failed", model=model, stream=stream, status=err.status,
                         error_type=err.type, message=err.message, timestamp=time.time(),
                         duration_s=time.monotonic() - arrival)
        return JSONResponse(err.body(), status_code=err.status)

    def _inject_error(self, chat: ChatRequest, arrival: float) -> JSONResponse:
        if self.options.log_errors:
            try:
                raise InjectedServerError(f"injected server error for model {chat.model} (--error-rate)")
            except InjectedServerError:
                logger.exception(f"500 Internal Server Error: POST {self.path}")
        if chat.stream:
            # A streaming request answered 500 is a stream that failed before its first byte: the
            # streaming tracker counts it, so server and client agree on how many streams failed.
            self.bus.publish("stream.started", model=chat.model)
            self.bus.publish("stream.failed", model=chat.model, chunks=0,
                             duration_s=time.monotonic() - arrival)
        return self._fail(INJECTED_ERROR, chat.model, stream=chat.stream, arrival=arrival)

    async def _complete(self, chat: ChatRequest, arrival: float) -> JSONResponse:
        await _sleep_until(arrival + self.options.latency)
        tokens, finish_reason = completion_tokens(chat.max_tokens, chat.ignore_eos)
        usage_ = usage(chat.prompt_tokens, len(tokens))
        body = self.document(int(time.time()), chat.model, "".join(tokens), finish_reason, usage_)
        self.bus.publish("request.completed", model=chat.model, stream=False,
                         prompt_tokens=chat.prompt_tokens, completion_tokens=len(tokens),
                         duration_s=time.monotonic() - arrival, finish_reason=finish_reason,
                         max_tokens=chat.max_tokens)
        return JSONResponse(body)

    async def _stream(self, chat: ChatRequest, arrival: float) -> StreamingResponse:
        tokens, finish_reason = completion_tokens(chat.max_tokens, chat.ignore_eos)
        drop_after = self.state.faults.drop_after(len(tokens))
        events = self._events(chat, arrival, tokens, finish_reason, drop_after)
        return _SSEResponse(await events.__anext__(), events)

    async def _events(self, chat: ChatRequest, arrival: float, tokens: tuple[str, ...],
                      finish_reason: str, drop_after: int | None) -> AsyncGenerator[bytes, None]:
        writer = self.writer(int(time.time()), chat.model, chat.include_usage)
        bus, model = self.bus, chat.model
        chunks = 0
        sent = 0
        itl: list[float] = []
        last_at = 0.0
        ttft: float | None = None
        finished = False
        bus.publish("stream.started", model=model)
        try:
            yield writer.role()
            chunks += 1
            due = arrival + self.options.ttft
            for token in tokens[:drop_after]:
                await _sleep_until(due)
                at = time.monotonic()
                if sent:
                    itl.append(at - last_at)
                else:
                    ttft = at - arrival
                    bus.publish("stream.first_token", model=model, ttft_s=ttft)
                last_at = at
                sent += 1
                chunks += 1
                yield writer.content(token)
                due += self.options.itl
            if drop_after is None:
                yield writer.finish(finish_reason)
                chunks += 1
                if chat.include_usage:
                    yield writer.usage(usage(chat.prompt_tokens, sent))
                    chunks += 1
            # Counted before [DONE] goes out, so a client that has read [DONE] finds the
            # completion already published.
            finished = True
            duration = time.monotonic() - arrival
            bus.publish("stream.completed", model=model, chunks=chunks, itl=itl, duration_s=duration)
            bus.publish("request.completed", model=model, stream=True, prompt_tokens=chat.prompt_tokens,
                        completion_tokens=sent, duration_s=duration, finish_reason=finish_reason,
                        max_tokens=chat.max_tokens, ttft_s=ttft, itl=itl)
            if drop_after is None:
                yield DONE
        finally:
            if not finished:
                duration = time.monotonic() - arrival
                bus.publish("stream.failed", model=model, chunks=chunks, duration_s=duration)
                err = CLIENT_CLOSED
                bus.publish("request.failed", model=model, stream=True, status=err.status,
                            error_type=err.type, message=err.message, timestamp=time.time(),
                            duration_s=duration)
