"""Deterministic fake completions and their OpenAI documents (chat.completion, chunks, SSE)."""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

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


def completion_tokens(max_tokens: int | None, ignore_eos: bool = False) -> tuple[tuple[str, ...], str]:
    """The content deltas and finish_reason for a request's max_tokens.

    With IGNORE_EOS (vLLM's, SGLang's and llama.cpp's request parameter) the completion runs to
    exactly max_tokens, past the natural end, the way those servers benchmark.
    """
    if ignore_eos and max_tokens is not None:
        words = itertools.islice(itertools.cycle(TOKENS[1:]), max_tokens - 1)
        return (TOKENS[0], *words), "length"
    if max_tokens is not None and max_tokens < NATURAL_TOKENS:
        return TOKENS[:max_tokens], "length"
    return TOKENS[:NATURAL_TOKENS], "stop"


def usage(prompt_tokens: int, completion_tokens_: int) -> dict[str, int]:
    """The OpenAI usage object."""
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens_,
            "total_tokens": prompt_tokens + completion_tokens_}


@dataclass(frozen=True)
class ResponseStyle:
    """How a server shapes its OpenAI documents; the default is OpenAI's own shape."""

    head: Mapping[str, Any] = field(default_factory=dict)     # extra top-level fields (system_fingerprint)
    choice: Mapping[str, Any] = field(default_factory=dict)   # extra fields of every choice (stop_reason)
    document_id: str | None = None       # TGI sends "" as the id of every chunk and response
    finish_reason_until_last: bool = True   # False: non-final chunks leave finish_reason out (LiteLLM)
    usage_until_last: str = "null"       # with include_usage, earlier chunks' usage: "null" or "absent"
    usage_choice: Mapping[str, Any] | None = None   # the usage chunk's one choice (LiteLLM), else none
    logprobs: bool = True                # False: choices leave logprobs out (LiteLLM)


OPENAI_STYLE = ResponseStyle()


def chat_completion(completion_id: str, created: int, model: str, content: str, finish_reason: str,
                    usage_: dict[str, int], style: ResponseStyle = OPENAI_STYLE) -> dict[str, Any]:
    """A non-streaming chat.completion document."""
    return {
        "id": completion_id if style.document_id is None else style.document_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        **style.head,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     **({"logprobs": None} if style.logprobs else {}), "finish_reason": finish_reason,
                     **style.choice}],
        "usage": usage_,
    }


class ChunkWriter:
    """Builds the SSE events of one stream; every event is ``data: <json>\\n\\n``."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool,
                 style: ResponseStyle = OPENAI_STYLE):
        document_id = completion_id if style.document_id is None else style.document_id
        self._head = {"id": document_id, "object": "chat.completion.chunk", "created": created,
                      "model": model, **style.head}
        self._include_usage = include_usage
        self._style = style

    def _event(self, choices: list[dict[str, Any]], usage_: dict[str, int] | None = None) -> bytes:
        doc = dict(self._head, choices=choices)
        if self._include_usage and (usage_ is not None or self._style.usage_until_last == "null"):
            # As OpenAI does: with include_usage every chunk has a usage key, null until the last.
            doc["usage"] = usage_
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"

    def delta(self, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        """A chunk with one choice carrying DELTA."""
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if self._style.logprobs:
            choice["logprobs"] = None
        if finish_reason is not None or self._style.finish_reason_until_last:
            choice["finish_reason"] = finish_reason
        return self._event([dict(choice, **self._style.choice)])

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
        """The include_usage chunk: no choices (or the style's one), the usage of the whole stream."""
        choice = self._style.usage_choice
        return self._event([] if choice is None else [dict(choice)], usage_)


DONE = b"data: [DONE]\n\n"
