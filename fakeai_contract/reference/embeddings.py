"""POST /v1/embeddings: deterministic unit vectors, OpenAI's shape, the faults and events of chat."""

from __future__ import annotations

import hashlib
import math
import struct
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .chat import INJECTED_ERROR, _sleep_until, unknown_model_error
from .state import ReferenceState
from .validation import ApiError, EmbeddingRequest, model_of, parse_embedding_request


def embedding(text_index: int, model: str, dimensions: int) -> list[float]:
    """A unit vector that depends only on the model, the input's position and the length asked for."""
    seed = hashlib.sha256(f"{model}:{text_index}".encode()).digest()
    raw = [struct.unpack_from("<h", seed, (2 * i) % 32)[0] + i for i in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 6) for x in raw]


def embeddings_document(req: EmbeddingRequest) -> dict:
    """The CreateEmbeddingResponse for REQ."""
    return {"object": "list", "model": req.model,
            "data": [{"object": "embedding", "index": i, "embedding": embedding(i, req.model, req.dimensions)}
                     for i in range(req.inputs)],
            "usage": {"prompt_tokens": req.prompt_tokens, "total_tokens": req.prompt_tokens}}


class Embeddings:
    """The embeddings endpoint bound to the server state: --latency, --error-rate and the events."""

    path = "/v1/embeddings"

    def __init__(self, state: ReferenceState):
        self.state = state
        self.bus = state.bus
        self.flavor = state.flavor

    def _fail(self, err: ApiError, model: str, arrival: float) -> JSONResponse:
        self.bus.publish("request.failed", model=model, stream=False, status=err.status, error_type=err.type,
                         message=err.message, timestamp=time.time(), duration_s=time.monotonic() - arrival)
        return JSONResponse(err.body(), status_code=err.status)

    async def endpoint(self, request: Request) -> Response:
        """Answer one embeddings request."""
        arrival = time.monotonic()
        raw = await request.body()
        try:
            req = parse_embedding_request(raw)
        except ApiError as err:
            self.bus.publish("request.started", model=model_of(raw), stream=False)
            return self._fail(err, model_of(raw), arrival)
        if self.flavor and req.model != self.flavor.model:
            if self.flavor.unknown_model not in ("serve", "echo"):
                self.bus.publish("request.started", model=req.model, stream=False)
                return self._fail(unknown_model_error(self.flavor.unknown_model, req.model), req.model, arrival)
            req = EmbeddingRequest(self.flavor.model, req.inputs, req.prompt_tokens, req.dimensions)
        self.state.note_model(req.model)
        self.bus.publish("request.started", model=req.model, stream=False)
        if self.state.faults.should_fail():
            return self._fail(INJECTED_ERROR, req.model, arrival)
        await _sleep_until(arrival + self.state.options.latency)
        body = embeddings_document(req)
        # nothing is generated: the request finishes at once with its prompt tokens only
        self.bus.publish("request.completed", model=req.model, stream=False, prompt_tokens=req.prompt_tokens,
                         completion_tokens=0, duration_s=time.monotonic() - arrival, finish_reason="stop",
                         max_tokens=None)
        return JSONResponse(body)
