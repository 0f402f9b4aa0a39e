"""Deterministic fake completions and their OpenAI documents (chat.completion, chunks, SSE)."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

#: The text every completion is cut from: one word is one token.
TEXT = ("This is a deterministic reply from the fakeai-contract reference server, written one "
        "word at a time so that clients can count tokens, chunks and timings exactly as they "
        "would against a real model server")
#: Content deltas as a stream sends them: the first word bare, the others with a leading space,
#: so joining the deltas gives the message content.
TOKENS: tuple[str, ...] = tuple(w if i == 0 else " " + w for i, w in enumerate(TEXT.split()))
#: Length of a completion when max_tokens does not cut it shorter.
NATURAL_TOKENS = 16

_ids = itertools.count(1)
_ID_PREFIX = os.urandom(4).hex()


def new_completion_id() -> str:
    """A unique chat completion id (chatcmpl-...)."""
    return f"chatcmpl-{_ID_PREFIX}{next(_ids):08x}"


def completion_tokens(max_tokens: int | None) -> tuple[tuple[str, ...], str]:
    """The content deltas and finish_reason for a request's max_tokens."""
    if max_tokens is not None and max_tokens < NATURAL_TOKENS:
        return TOKENS[:max_tokens], "length"
    return TOKENS[:NATURAL_TOKENS], "stop"


def usage(prompt_tokens: int, completion_tokens_: int) -> dict[str, int]:
    """The OpenAI usage object."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens_,
            "total_tokens": prompt_tokens + completion_tokens_}


def chat_completion(completion_id: str, created: int, model: str, content: str, finish_reason: str,
                    usage_: dict[str, int]) -> dict[str, Any]:
    """A non-streaming chat.completion document."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage_,
    }


class ChunkWriter:
    """Builds the SSE events of one stream; every event is ``data: <json>\\n\\n``."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool):
        self._head = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                      "model": model}
        self._include_usage = include_usage

    def _event(self, choices: list[dict[str, Any]], usage_: dict[str, int] | None = None) -> bytes:
        doc = dict(self._head, choices=choices)
        if self._include_usage:
            # As OpenAI does: with include_usage every chunk has a usage key, null until the last.
            doc["usage"] = usage_
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"

    def delta(self, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        """A chunk with one choice carrying DELTA."""
        return self._event([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def role(self) -> bytes:
        """The first chunk: the assistant role and empty content."""
        return self.delta({"role": "assistant", "content": ""})

    def content(self, token: str) -> bytes:
        """A content chunk with one token."""
        return self.delta({"content": token})

    def finish(self, finish_reason: str) -> bytes:
        """The chunk with an empty delta and the finish reason."""
        return self.delta({}, finish_reason)

    def usage(self, usage_: dict[str, int]) -> bytes:
        """The include_usage chunk: no choices, the usage of the whole stream."""
        return self._event([], usage_)


DONE = b"data: [DONE]\n\n"
