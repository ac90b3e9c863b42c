"""An embedder that remembers the vectors of texts it has embedded.

The same short texts come back again and again: greetings and thanks in chat turns, the
clauses of a message read once by the extractor and again when the next message arrives,
a profile's memory texts each time it is compared with new ones. Vectors are deterministic,
so a text is embedded once and looked up after.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from .base import Embedder


class CachedEmbedder(Embedder):
    """Wraps ``inner`` and remembers each text's vector.

    Parameters
    ----------
    inner
        The embedder that computes vectors (its ``name`` is kept, so stored vectors match).
    max_texts
        Most texts remembered, the least recently used forgotten first; None keeps all (a
        benchmark whose users share filler turns: each distinct turn is embedded once).

    Examples
    --------
    >>> from tailored.testing import HashEmbedder
    >>> emb = CachedEmbedder(HashEmbedder(), max_texts=2)
    >>> v = emb.embed(["a", "b", "a"])
    >>> bool((v[0] == v[2]).all()), list(emb._vectors)
    (True, ['a', 'b'])
    >>> _ = emb.embed(["a"]); _ = emb.embed(["c"]); list(emb._vectors)  # "b" is the least recently used
    ['a', 'c']
    """

    def __init__(self, inner: Embedder, max_texts: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.batch_size = inner.batch_size
        self.max_texts = max_texts
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_batch(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts``; only the ones not remembered reach ``inner`` (outside the
        lock, so threads that share this embedder wait only for the look-ups)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:
            known = {t: self._vectors[t] for t in dict.fromkeys(texts) if t in self._vectors}
            for t in known:
                self._vectors.move_to_end(t)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        found = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
        with self._lock:
            self._vectors.update(found)
            while self.max_texts is not None and len(self._vectors) > self.max_texts:
                self._vectors.popitem(last=False)
        return np.stack([known[t] if t in known else found[t] for t in texts])
