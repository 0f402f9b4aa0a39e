"""The bundled FakeAI-compatible reference server (`fakeai-contract serve`).

Importing this package needs neither starlette nor uvicorn; starting a server does.
"""

from typing import Any

from .options import DEFAULT_MODELS, ReferenceOptions
from .server import MISSING_EXTRA, ReferenceServer, has_reference_extra

#: Names of .process (which starts a server as a child and polls it over urllib), imported when first
#: asked for: the server process itself never needs them, and every start would pay for urllib.
_SPAWNING = {"ReferenceProcess", "ReferenceStartError", "spawn_reference"}


def __getattr__(name: str) -> Any:
    if name in _SPAWNING:
        from . import process

        return getattr(process, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DEFAULT_MODELS", "MISSING_EXTRA", "ReferenceOptions", "ReferenceProcess", "ReferenceServer",
    "ReferenceStartError", "has_reference_extra", "spawn_reference",
]
