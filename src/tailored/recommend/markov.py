"""Markov: what people go on to next. For each item, how often each other item followed
it within ``window`` steps of one user's history (nearer steps weigh more), normalised
into transition probabilities; a user is scored from their ``last`` latest items, the
newest weighing most (``half_life`` in steps).

It is the sequential signal at the cost of a sparse matrix product: on MovieLens, where
people rate films in sittings, the next item follows the last few far better than the
whole history says (it is what SASRec learns, without the training). The hybrid blends it
with EASE's whole-history view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .base import BaseRecommender
from .data import Interactions


def transitions(data: Interactions, window: int, decay: float = 0.5) -> sp.csr_matrix:
    """items x items: row ``i`` sums ``decay ** (d - 1)`` over every time item ``j`` came
    ``d <= window`` steps after ``i`` in one user's history; rows scaled to sum to 1."""
    order = np.lexsort((np.arange(len(data)), data.user_idx))  # by user, then time
    users, items = data.user_idx[order], data.item_idx[order]
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        same = users[:-d] == users[d:]
        rows.append(items[:-d][same])
        cols.append(items[d:][same])
        vals.append(np.full(int(same.sum()), decay ** (d - 1), dtype=np.float32))
    n = data.n_items
    m = sp.coo_matrix(
        (np.concatenate(vals) if vals else np.zeros(0, np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    ).tocsr()
    m.sum_duplicates()
    totals = np.asarray(m.sum(axis=1)).ravel()
    totals[totals == 0] = 1.0
    out: sp.csr_matrix = (sp.diags(1.0 / totals).astype(np.float32) @ m).tocsr()
    return out


class Markov(BaseRecommender):
    name = "markov"

    def __init__(self, window: int = 10, last: int = 10, half_life: float | None = 1.0) -> None:
        self.window, self.last, self.half_life = window, last, half_life

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "last": self.last, "half_life": self.half_life}

    def recency(self, data: Interactions) -> sp.csr_matrix:
        return data.recency_matrix(self.half_life, last=self.last)

    def _fit(self, data: Interactions) -> None:
        self.moves = transitions(data, self.window)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return np.asarray((self._recent[users] @ self.moves).todense(), dtype=np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        m = self.moves.tocsr()
        return {"moves_data": m.data, "moves_indices": m.indices, "moves_indptr": m.indptr}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n = len(state["moves_indptr"]) - 1
        self.moves = sp.csr_matrix((state["moves_data"], state["moves_indices"], state["moves_indptr"]), shape=(n, n))
