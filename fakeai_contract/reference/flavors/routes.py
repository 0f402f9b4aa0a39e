"""The routes of a flavored reference server, and the API key guard its server has."""

from __future__ import annotations

import json
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import Flavor


def _json(produce: Callable[[], Any]):
    async def endpoint(request: Request) -> Response:
        return JSONResponse(produce())
    return endpoint


def _answer(status: int, body: Any):
    async def endpoint(request: Request) -> Response:
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status)
    return endpoint


def not_found_handler(flavor: Flavor):
    """The 404 FLAVOR's server gives for a path it has no route for, and its 405 for a method."""
    bodies = {404: flavor.not_found, 405: flavor.not_allowed}

    async def handler(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 404)
        return await _answer(code, bodies.get(code, flavor.not_found))(request)
    return handler


def flavor_routes(flavor: Flavor, state: Any, chat: Any, retrieve_model: Any, apis: Any = ()) -> list[Route]:
    """Health, models, chat, the other OpenAI APIs and metrics where FLAVOR's server has them."""
    async def health(request: Request) -> Response:
        if flavor.health_body is None:
            return Response(status_code=200)   # an empty 200, as vLLM, SGLang and TGI answer
        return JSONResponse(flavor.health_body)

    async def metrics(request: Request) -> Response:
        return Response(state.surface.render(), media_type=state.surface.content_type)

    routes = [
        Route(flavor.health_path, health, methods=["GET"]),
        Route("/v1/models", _json(state.model_list), methods=["GET"]),
        Route("/v1/chat/completions", chat.endpoint, methods=["POST"]),
        Route(flavor.metrics_path, metrics, methods=["GET"]),
    ]
    if flavor.retrieve_model:
        routes.append(Route("/v1/models/{model:path}", retrieve_model, methods=["GET"]))
    routes += [Route(api.path, api.endpoint, methods=["POST"]) for api in apis if api.path in flavor.apis]
    routes += [Route(path, _answer(*answer), methods=["POST"]) for path, answer in flavor.refused.items()]
    if flavor.metrics_path.endswith("/") and len(flavor.metrics_path) > 1:
        # A mounted ASGI app (LiteLLM's make_asgi_app at /metrics) redirects the bare path.
        bare = flavor.metrics_path.rstrip("/")
        routes.append(Route(bare, lambda request: RedirectResponse(flavor.metrics_path, status_code=307),
                            methods=["GET"]))
    for path, document in flavor.extra_routes:
        routes.append(Route(path, _json(lambda document=document: document), methods=["GET"]))
    return routes


class KeyGuard:
    """ASGI middleware: the paths FLAVOR's server guards need ``Authorization: Bearer KEY``."""

    def __init__(self, app: Any, flavor: Flavor, key: str):
        self.app = app
        self.flavor = flavor
        self.expected = f"Bearer {key}"

    def _guarded(self, path: str) -> bool:
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.flavor.key_exempt):
            return False
        return any(path.startswith(p) for p in self.flavor.key_paths)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS" and self._guarded(scope["path"]):
            headers = dict(scope.get("headers") or ())
            if headers.get(b"authorization", b"").decode("latin-1") != self.expected:
                status, body = self.flavor.unauthorized()
                response = Response(json.dumps(body), status_code=status, media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
