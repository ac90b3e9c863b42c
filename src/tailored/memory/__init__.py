"""Memories derived from events: extraction, evolution, profiles and summaries.

Extractors are found through the ``tailored.extractors`` entry-point group; the built-in
``auto`` (the default), ``fast``, ``rules`` and ``llm`` register there too (see pyproject.toml).
"""

from __future__ import annotations

from .. import plugins
from ..errors import ModelError
from .base import Extractor

GROUP = "tailored.extractors"
BUILTINS = {
    "auto": "tailored.memory.auto:AutoExtractor",
    "fast": "tailored.memory.fast:FastExtractor",
    "rules": "tailored.memory.rules:RulesExtractor",
    "llm": "tailored.memory.llm:LLMExtractor",
}


def available_extractors() -> list[str]:
    return plugins.available(GROUP, BUILTINS)


def load_extractor(name: str) -> Extractor:
    """Instantiate the extractor registered under ``name`` (``rules``, ``llm``, ...)."""
    extractor = plugins.load(GROUP, name, ModelError, BUILTINS)()
    if not isinstance(extractor, Extractor):
        raise ModelError(f"extractor {name!r} is not an Extractor")
    return extractor


__all__ = ["Extractor", "available_extractors", "load_extractor"]
