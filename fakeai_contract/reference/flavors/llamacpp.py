"""llama.cpp's llama-server (tools/server/server.cpp: get_health, get_metrics, get_models)."""

from __future__ import annotations

from typing import Any, Mapping

from ..completion import ResponseStyle
from . import Flavor
from .surface import Surface, Timing, text_exposition

MODEL = "llama-3.1-8b-instruct-q4_k_m.gguf"
#: Its answer to a request no route takes.
NOT_FOUND = {"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}


class LlamacppSurface(Surface):
    """The hand-written /metrics of llama-server (needs --metrics): counters and gauges, no labels."""

    content_type = "text/plain; version=0.0.4"

    def __init__(self, model: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.prompt_tokens = 0
        self.prompt_ms = 0
        self.predicted = 0
        self.predicted_ms = 0
        self.decodes = 0
        self.processing = 0
        self.deferred = 0
        self.last_prompt_rate = 0.0
        self.last_predicted_rate = 0.0

    def running(self, count: int) -> None:
        self.processing = count

    def waiting(self, count: int) -> None:
        self.deferred = count         # tasks deferred until a slot is free

    def completed(self, data: Mapping[str, Any], timing: Timing) -> None:
        prompt_ms = int(timing.ttft * 1000)           # slot t_prompt_processing, whole ms
        predicted_ms = int(timing.decode * 1000)      # slot t_token_generation
        self.prompt_tokens += data.get("prompt_tokens") or 0
        self.prompt_ms += prompt_ms
        self.predicted += timing.tokens
        self.predicted_ms += predicted_ms
        self.decodes += timing.tokens                 # one llama_decode per generated token
        if prompt_ms:
            self.last_prompt_rate = 1e3 / prompt_ms * (data.get("prompt_tokens") or 0)
        if predicted_ms:
            self.last_predicted_rate = 1e3 / predicted_ms * timing.tokens

    def phantom(self, count: int) -> None:
        self.prompt_tokens += count
        self.predicted += count

    def render(self) -> bytes:
        def one(name: str, kind: str, help_text: str, value: float):
            return (f"llamacpp:{name}", kind, help_text, [(f"llamacpp:{name}", {}, value)])
        return text_exposition([
            one("prompt_tokens_total", "counter", "Number of prompt tokens processed.", self.prompt_tokens),
            # server.cpp: (uint64_t) t_prompt_processing_total / 1.e3 (whole milliseconds, in seconds)
            one("prompt_seconds_total", "counter", "Prompt process time", self.prompt_ms / 1e3),
            one("tokens_predicted_total", "counter", "Number of generation tokens processed.", self.predicted),
            one("tokens_predicted_seconds_total", "counter", "Predict process time", self.predicted_ms / 1e3),
            one("n_decode_total", "counter", "Total number of llama_decode() calls", self.decodes),
            one("n_busy_slots_per_decode", "counter", "Average number of busy slots per llama_decode() call",
                1.0 if self.decodes else 0.0),
            one("prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s.", self.last_prompt_rate),
            one("predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s.",
                self.last_predicted_rate),
            one("requests_processing", "gauge", "Number of requests processing.", self.processing),
            one("requests_deferred", "gauge", "Number of requests deferred.", self.deferred),
        ])


def _models_extra(model: str) -> Mapping[str, Any]:
    # get_models answers the Ollama-style "models" list beside the OpenAI "data".
    return {"models": [{"name": model, "model": model, "modified_at": "", "size": "", "digest": "",
                        "type": "model", "description": "", "tags": [""], "capabilities": ["completion"],
                        "parameters": "", "details": {"parent_model": "", "format": "gguf", "family": "",
                                                      "families": [""], "parameter_size": "",
                                                      "quantization_level": ""}}]}


FLAVOR = Flavor(
    name="llamacpp",
    model=MODEL,
    owned_by="llamacpp",
    health_path="/health",            # get_health: {"status": "ok"}; 503 while the model loads
    health_body={"status": "ok"},
    metrics_path="/metrics",
    surface=LlamacppSurface,
    style=ResponseStyle(head={"system_fingerprint": "b6000-reference"}),
    unknown_model="serve",            # one model per server: any name is answered by it
    model_card={"meta": {"vocab_type": 2, "n_vocab": 128256, "n_ctx_train": 131072, "n_embd": 4096,
                         "n_params": 8030261248, "size": 4920734720}},
    models_extra=_models_extra,
    key_paths=("/",),                 # --api-key guards every route but the public ones
    key_exempt=("/health", "/v1/health", "/models", "/v1/models", "/api/tags"),
    unauthorized=lambda: (401, {"error": {"code": 401, "message": "Invalid API Key",
                                          "type": "authentication_error"}}),
    # /v1/embeddings is routed, but a server started without --embeddings refuses it (501);
    # there is no /v1/models/{model}, and an unrouted path is its own JSON 404.
    apis=("/v1/completions",),
    refused={"/v1/embeddings": (501, {"error": {
        "code": 501, "type": "not_supported_error",
        "message": "This server does not support embeddings. Start it with `--embeddings`"}})},
    retrieve_model=False,
    not_found=NOT_FOUND,
    not_allowed=NOT_FOUND,      # its error handler answers any unrouted request with this body
)
