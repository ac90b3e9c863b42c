"""What every benchmark shares: where data lives, the machine it ran on, writing reports."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..embed import Embedder
from ..errors import NotFound

DATA_ENV = "TAILORED_DATA"

OutOpt = Annotated[Path, typer.Option("--out", help="Folder the report, its JSON and any plot go to.")]
"""Every bench command that writes a report names its folder ``--out``."""


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The columns of every bench's progress bars: what, how far, how long, how long left."""
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def data_dir() -> Path:
    """Evaluation data: ``$TAILORED_DATA``, else ``../shared/data`` next to the checkout."""
    return Path(os.environ.get(DATA_ENV, "../shared/data"))


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise NotFound(f"{what} not found at {path} (set --data or ${DATA_ENV})")
    return path


def machine() -> dict[str, Any]:
    import tailored

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "tailored": tailored.__version__,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


class CachedEmbedder(Embedder):
    """Wraps an embedder and remembers each text's vector.

    A benchmark that builds many users from the same filler turns hands the engine this
    embedder, so ``Engine.add`` (the public path, with its own text preparation) embeds each
    distinct turn once across users instead of once per user."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.batch_size = inner.batch_size
        self._vectors: dict[str, np.ndarray] = {}

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_batch(texts)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.inner.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])
