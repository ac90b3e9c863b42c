"""Memories derived from events: extraction, evolution, profiles and summaries.

Extractors are found through the ``tailored.extractors`` entry-point group; the built-in
``rules`` and ``llm`` register there too (see pyproject.toml).
"""

from __future__ import annotations

from importlib.metadata import entry_points

from ..errors import ModelError
from .base import Extractor


def available_extractors() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="tailored.extractors"))


def load_extractor(name: str) -> Extractor:
    """Instantiate the extractor registered under ``name`` (``rules``, ``llm``, ...)."""
    for ep in entry_points(group="tailored.extractors"):
        if ep.name == name:
            extractor = ep.load()()
            if not isinstance(extractor, Extractor):
                raise ModelError(f"extractor {name!r} is not an Extractor")
            return extractor
    raise ModelError(f"unknown extractor {name!r}; available: {', '.join(available_extractors()) or 'none'}")


__all__ = ["Extractor", "available_extractors", "load_extractor"]
