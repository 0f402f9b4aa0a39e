"""POST /v1/completions: the text completions API, answered like chat with `choices[].text`."""

from __future__ import annotations

from typing import Any

from .chat import ChatCompletions
from .completion import OPENAI_STYLE, ChunkWriter, ResponseStyle, new_completion_id
from .validation import parse_completion_request


def _completion_id() -> str:
    return "cmpl-" + new_completion_id().removeprefix("chatcmpl-")


def text_completion(completion_id: str, created: int, model: str, text: str, finish_reason: str,
                    usage_: dict[str, int], style: ResponseStyle = OPENAI_STYLE) -> dict[str, Any]:
    """A non-streaming text_completion document."""
    return {"id": completion_id, "object": "text_completion", "created": created, "model": model, **style.head,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason,
                         **style.choice}],
            "usage": usage_}


class TextChunkWriter(ChunkWriter):
    """The SSE events of a text completion stream: each chunk a text_completion with its text."""

    def __init__(self, completion_id: str, created: int, model: str, include_usage: bool,
                 style: ResponseStyle = OPENAI_STYLE):
        super().__init__(completion_id, created, model, include_usage, style)
        self._head["object"] = "text_completion"

    def delta(self, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        choice: dict[str, Any] = {"text": delta.get("content", ""), "index": 0, "logprobs": None}
        if finish_reason is not None or self._style.finish_reason_until_last:
            choice["finish_reason"] = finish_reason
        return self._event([dict(choice, **self._style.choice)])


class TextCompletions(ChatCompletions):
    """The completions endpoint: chat's timing, faults and events, a prompt and text answers."""

    path = "/v1/completions"
    parse = staticmethod(parse_completion_request)

    def document(self, created: int, model: str, content: str, finish_reason: str,
                 usage_: dict[str, int]) -> dict:
        return text_completion(_completion_id(), created, model, content, finish_reason, usage_, self.style)

    def writer(self, created: int, model: str, include_usage: bool) -> ChunkWriter:
        return TextChunkWriter(_completion_id(), created, model, include_usage, self.style)
