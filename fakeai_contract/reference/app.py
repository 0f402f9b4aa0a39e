"""The Starlette application: routes, the event bus lifespan, OpenAI-style 404/405 bodies."""

from __future__ import annotations

import contextlib
from typing import Any, Callable

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .chat import ChatCompletions
from .embeddings import Embeddings
from .text_completions import TextCompletions
from .options import ReferenceOptions
from .state import ReferenceState
from .validation import ApiError


def _document(produce: Callable[[], dict[str, Any]]):
    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse(produce())
    return endpoint


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    codes = {404: ("unknown_url", f"Unknown request URL: {request.method} {request.url.path}."),
             405: ("method_not_allowed", f"Method {request.method} is not allowed for {request.url.path}.")}
    code, message = codes.get(exc.status_code, (None, str(exc.detail)))
    err = ApiError(exc.status_code, message, code=code)
    return JSONResponse(err.body(), status_code=exc.status_code, headers=getattr(exc, "headers", None))


def build_app(options: ReferenceOptions, state: ReferenceState | None = None) -> Starlette:
    """The reference server as an ASGI application (the event bus runs in its lifespan)."""
    state = state or ReferenceState(options)
    chat = ChatCompletions(state)
    apis = [TextCompletions(state), Embeddings(state)]       # served beside chat, with its faults

    async def retrieve_model(request: Request) -> JSONResponse:
        name = request.path_params["model"]
        if name not in state.models:
            err = ApiError(404, f"The model '{name}' does not exist.", param="model", code="model_not_found")
            return JSONResponse(err.body(), status_code=404)
        return JSONResponse(state.model_card(name))

    async def prometheus(request: Request) -> Response:
        body, content_type = state.prometheus.render(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        # Load anyio's backend now: the first stream would otherwise pay ~20 ms of TTFT for it.
        async with anyio.create_task_group():
            pass
        state.bus.start()
        try:
            yield
        finally:
            await state.bus.stop()

    if state.flavor is not None:
        from .flavors.routes import KeyGuard, flavor_routes, not_found_handler
        routes = flavor_routes(state.flavor, state, chat, retrieve_model, apis)
        missing = not_found_handler(state.flavor)
        app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={404: missing, 405: missing})
        app.state.reference = state
        if options.api_key:
            app.add_middleware(KeyGuard, flavor=state.flavor, key=options.api_key)
        return app
    routes = [
        Route("/health", _document(state.health), methods=["GET"]),
        Route("/v1/models", _document(state.model_list), methods=["GET"]),
        Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]),
        Route("/v1/chat/completions", chat.endpoint, methods=["POST"]),
        *(Route(api.path, api.endpoint, methods=["POST"]) for api in apis),
        Route("/metrics", _document(state.metrics), methods=["GET"]),
        Route("/metrics/events", _document(state.events), methods=["GET"]),
        Route("/metrics/errors", _document(state.error_metrics), methods=["GET"]),
        Route("/metrics/streaming", _document(state.streaming), methods=["GET"]),
        Route("/metrics/slo", _document(state.slo), methods=["GET"]),
        Route("/metrics/prometheus", prometheus, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: _http_error, 405: _http_error})
    app.state.reference = state
    return app
