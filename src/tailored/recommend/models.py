"""The built-in recommenders by name, and loading a saved one from its file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput
from .base import BaseRecommender, read_model_file
from .content import Content
from .ease import EASE
from .factors import ALS, BPR
from .hybrid import Hybrid
from .knn import ItemKNN
from .markov import Markov
from .popularity import Popularity
from .ratings import BiasedMF
from .sasrec import SASRec

RECOMMENDERS: dict[str, type[BaseRecommender]] = {
    "popularity": Popularity,
    "ease": EASE,
    "itemknn": ItemKNN,
    "markov": Markov,
    "als": ALS,
    "bpr": BPR,
    "sasrec": SASRec,
    "content": Content,
    "mf": BiasedMF,
    "hybrid": Hybrid,
}


def make(name: str, **params: Any) -> BaseRecommender:
    if name not in RECOMMENDERS or name == "hybrid":
        known = ", ".join(n for n in RECOMMENDERS if n != "hybrid")
        raise InvalidInput(f"unknown recommender {name!r}; one of: {known}, hybrid")
    return RECOMMENDERS[name](**params)


def _build(header: dict[str, Any]) -> BaseRecommender:
    name = header.get("name")
    params = dict(header.get("params", {}))
    if name == "hybrid":
        parts = [_build(p) for p in params.get("parts", [])]
        return Hybrid(parts, params.get("weights", [1.0] * len(parts)))
    if name not in RECOMMENDERS:
        raise InvalidInput(f"the file names an unknown recommender {name!r}")
    model = RECOMMENDERS[name]()
    for key, value in params.items():
        setattr(model, key, value)
    return model


def load(path: str | Path) -> BaseRecommender:
    """A saved recommender, ready to rank, with the fingerprint of its training data."""
    header, data, state = read_model_file(path)
    model = _build(header)
    model.data, model.fingerprint, model._seen = data, str(header.get("fingerprint", "")), data.matrix()
    model._recent = model.recency(data)
    model._set_state(state)
    if model.fingerprint != data.fingerprint():
        raise InvalidInput(f"{path}: the training data inside does not match its fingerprint")
    return model


def state_size(model: BaseRecommender) -> int:
    """Bytes of the model's arrays (what it keeps in memory besides the training rows)."""
    return int(sum(np.asarray(v).nbytes for v in model._state().values()))
