"""The bundled FakeAI-compatible reference server (`fakeai-contract serve`).

Importing this package needs neither starlette nor uvicorn; starting a server does.
"""

from .options import DEFAULT_MODELS, ReferenceOptions
from .process import ReferenceProcess, ReferenceStartError, spawn_reference
from .server import MISSING_EXTRA, ReferenceServer, has_reference_extra

__all__ = [
    "DEFAULT_MODELS", "MISSING_EXTRA", "ReferenceOptions", "ReferenceProcess", "ReferenceServer",
    "ReferenceStartError", "has_reference_extra", "spawn_reference",
]
