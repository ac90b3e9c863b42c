"""Embedders, found through the ``tailored.embedders`` entry-point group.

Built-ins register there too (see pyproject.toml), so a third-party embedder is loaded
exactly the way ``minilm`` is.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import ModelError
from .base import Embedder


def available_embedders() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="tailored.embedders"))


def load_embedder(name: str) -> Embedder:
    """Instantiate the embedder registered under ``name`` (``minilm``, ``hash``, ...)."""
    for ep in entry_points(group="tailored.embedders"):
        if ep.name == name:
            cls = ep.load()
            embedder = cls()
            if not isinstance(embedder, Embedder):
                raise ModelError(f"embedder {name!r} is not an Embedder")
            return embedder
    raise ModelError(f"unknown embedder {name!r}; available: {', '.join(available_embedders())}")


__all__ = ["Embedder", "available_embedders", "load_embedder"]
