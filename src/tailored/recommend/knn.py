"""Item-kNN: cosine similarity between items' user sets, each item keeping its ``k``
nearest neighbours. It also gives the "because you liked X" explanations: the neighbour a
score came from is an item the user interacted with."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import BaseRecommender
from .data import Interactions


def item_similarity(x: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Cosine similarity of item columns of ``x``, ``k`` neighbours per item, no self."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    xn = x @ sp.diags(1.0 / norms)
    sim = (xn.T @ xn).tocsr().astype(np.float32)
    sim.setdiag(0)
    sim.eliminate_zeros()
    rows, cols, vals = [], [], []
    for i in range(sim.shape[0]):
        start, end = sim.indptr[i], sim.indptr[i + 1]
        if end == start:
            continue
        idx, v = sim.indices[start:end], sim.data[start:end]
        if len(v) > k:
            keep = np.argpartition(-v, k - 1)[:k]
            idx, v = idx[keep], v[keep]
        rows.append(np.full(len(idx), i))
        cols.append(idx)
        vals.append(v)
    if not rows:
        return sp.csr_matrix(sim.shape, dtype=np.float32)
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=sim.shape)


class ItemKNN(BaseRecommender):
    name = "itemknn"

    def __init__(self, k: int = 100, half_life: float | None = None) -> None:
        self.k = k
        self.half_life = half_life

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "half_life": self.half_life}

    def _fit(self, data: Interactions) -> None:
        # rows: an item; columns: its neighbours. A user's score for item j sums sim(i, j)
        # over the items i they interacted with.
        self.sim = item_similarity(self._seen, self.k)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._recent[users] @ self.sim).todense(), dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        s = self.sim.tocsr()
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n = len(state["sim_indptr"]) - 1
        self.sim = sp.csr_matrix((state["sim_data"], state["sim_indices"], state["sim_indptr"]), shape=(n, n))
