"""Embedders, found through the ``tailored.embedders`` entry-point group.

Built-ins register there too (see pyproject.toml), so a third-party embedder is loaded
exactly the way ``minilm`` is.
"""

from __future__ import annotations

from .. import plugins
from ..errors import ModelError
from .base import Embedder

GROUP = "tailored.embedders"
BUILTINS = {"minilm": "tailored.embed.local:MiniLMEmbedder", "hash": "tailored.testing:HashEmbedder"}


def available_embedders() -> list[str]:
    return plugins.available(GROUP, BUILTINS)


def load_embedder(name: str) -> Embedder:
    """Instantiate the embedder registered under ``name`` (``minilm``, ``hash``, ...)."""
    embedder = plugins.load(GROUP, name, ModelError, BUILTINS)()
    if not isinstance(embedder, Embedder):
        raise ModelError(f"embedder {name!r} is not an Embedder")
    return embedder


__all__ = ["Embedder", "available_embedders", "load_embedder"]
