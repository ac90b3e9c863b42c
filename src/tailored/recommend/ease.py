"""EASE (Steck, WWW 2019): a closed-form item-item model, ``B = I - P / diag(P)`` with
``P = (X^T X + lambda I)^-1`` and a zero diagonal. One matrix inverse, no epochs, and a
strong baseline for full ranking on MovieLens.

With ``half_life`` a user is scored from their history weighted by recency (an item
``p`` interactions back weighs ``0.5 ** (p / half_life)``): on MovieLens, where people rate
films in sittings, the last few items say most about the next one.

Only items someone interacted with enter the inverse: an item with an empty column has a
zero row and column in ``B`` (score 0), the same as the full inverse gives, in far less
time and memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidInput
from .base import BaseRecommender
from .data import Interactions


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor
    (LAPACK potrf + potri): half the work of a general inverse."""
    from scipy.linalg import lapack

    factor, info = lapack.spotrf(gram, lower=True, overwrite_a=True)
    if info != 0:
        raise InvalidInput(f"EASE: the item Gram matrix is not positive definite (LAPACK info {info})")
    inv, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise InvalidInput(f"EASE: the inverse failed (LAPACK info {info})")
    lower = np.tril(inv)
    out: np.ndarray = lower + np.tril(lower, -1).T
    return out


class EASE(BaseRecommender):
    name = "ease"

    def __init__(self, l2: float = 200.0, half_life: float | None = None) -> None:
        self.l2 = l2
        self.half_life = half_life

    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "half_life": self.half_life}

    def _fit(self, data: Interactions) -> None:
        x = self._seen
        self.active = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() > 0).astype(np.int64)
        xa = x[:, self.active]
        gram = (xa.T @ xa).toarray().astype(np.float32)
        gram[np.diag_indices_from(gram)] += self.l2
        p = _spd_inverse(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices_from(b)] = 0.0
        self.weights = b.astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        data = self._data()
        if getattr(self, "_active_of", None) is not self._recent:  # the columns that enter B, sliced once
            self._recent_active, self._active_of = self._recent[:, self.active].tocsr(), self._recent
        out = np.zeros((len(users), data.n_items), dtype=np.float32)
        out[:, self.active] = self._recent_active[users] @ self.weights
        return out

    def _state(self) -> dict[str, np.ndarray]:
        return {"active": self.active, "weights": self.weights}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.active, self.weights = state["active"], state["weights"]
