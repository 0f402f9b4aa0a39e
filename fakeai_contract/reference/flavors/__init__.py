"""``--flavor NAME``: the reference server shaped like another server (health, models, metrics).

Each module describes one server from its own source (tests/data/packs/SOURCES.md cites the
files): the health route and body, the /v1/models card, how it shapes OpenAI chunks, and its
Prometheus metrics with their real names, labels and buckets, fed by the reference's event bus.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..completion import OPENAI_STYLE, ResponseStyle

if TYPE_CHECKING:  # prometheus_client is imported only when a flavor is used
    from .surface import Surface


@dataclass(frozen=True)
class Flavor:
    """What makes the reference server look like NAME."""

    name: str
    model: str                                  # the one model it serves
    owned_by: str
    health_path: str
    health_body: Any                            # a JSON document, or None for an empty 200
    metrics_path: str
    surface: Callable[..., "Surface"]
    style: ResponseStyle = OPENAI_STYLE
    #: A request for another model: "404" (model_not_found), "serve" (answered by the served
    #: model, which the response names), "echo" (answered by the served model, the response
    #: names the requested one: TGI), "400" (LiteLLM's invalid model name).
    unknown_model: str = "404"
    model_card: Mapping[str, Any] = field(default_factory=dict)   # extra fields of a model card
    models_extra: Callable[[str], Mapping[str, Any]] | None = None  # extra fields of /v1/models
    #: With --api-key: paths starting with one of these need "Authorization: Bearer KEY",
    #: except those in key_exempt.
    key_paths: tuple[str, ...] = ("/v1",)
    key_exempt: tuple[str, ...] = ()
    unauthorized: Callable[[], tuple[int, Any]] = lambda: (401, {"error": "Unauthorized"})
    extra_routes: tuple[tuple[str, Any], ...] = ()   # (path, JSON document) served by GET
    #: The OpenAI routes beside chat it serves for the one (generative) model it runs; another of
    #: /v1/completions and /v1/embeddings is answered as REFUSED says, else not found.
    apis: tuple[str, ...] = ("/v1/completions", "/v1/embeddings")
    #: POST path -> (status, body): a route the server has but refuses for a generative model.
    refused: Mapping[str, tuple[int, Any]] = field(default_factory=dict)
    retrieve_model: bool = True                      # GET /v1/models/{model}
    #: The body of the server's 404 for a path it has no route for, and of its 405 for a method a
    #: route does not take (None: an empty body). FastAPI's, as vLLM, SGLang and LiteLLM answer.
    not_found: Any = field(default_factory=lambda: {"detail": "Not Found"})
    not_allowed: Any = field(default_factory=lambda: {"detail": "Method Not Allowed"})


#: The flavors by name (each is the module of that name), in the order --help lists them.
NAMES = ("vllm", "sglang", "tgi", "llamacpp", "litellm")


def get_flavor(name: str) -> Flavor:
    """The flavor called NAME; KeyError if there is none."""
    if name not in NAMES:
        raise KeyError(name)
    from importlib import import_module
    return import_module(f"{__name__}.{name}").FLAVOR
