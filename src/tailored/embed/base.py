"""The embedder interface: a backend implements only ``embed_batch``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ..errors import ModelError


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors.

    Subclasses set ``name`` (stored with each vector, so vectors of different models never
    mix), ``dimensions`` and ``batch_size``, and implement ``embed_batch``.
    """

    name: str = "embedder"
    dimensions: int = 0
    batch_size: int = 64

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed at most ``batch_size`` texts; returns an array of shape (len(texts), dimensions)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed any number of texts, batching and normalising once here for every backend."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        parts = [self.embed_batch(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        out = np.asarray(np.concatenate(parts), dtype=np.float32)
        if out.shape != (len(texts), self.dimensions):
            raise ModelError(f"{self.name} returned shape {out.shape}, expected ({len(texts)}, {self.dimensions})")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        normalised: np.ndarray = out / np.maximum(norms, 1e-12)
        return normalised

    def embed_one(self, text: str) -> np.ndarray:
        row: np.ndarray = self.embed([text])[0]
        return row
