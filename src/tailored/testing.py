"""Deterministic test doubles for fast tests and executable docs.

Every capability is also tested with the real models; these only make the fast tier fast.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from .embed.base import Embedder

_WORD = re.compile(r"[a-z0-9]+")


class HashEmbedder(Embedder):
    """Bag-of-words hashed into a fixed number of buckets: texts sharing words are close."""

    name = "hash-256"
    dimensions = 256
    batch_size = 1024

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
                out[row, h % self.dimensions] += 1.0
            out[row, 0] += 1e-3  # no all-zero rows
        return out
