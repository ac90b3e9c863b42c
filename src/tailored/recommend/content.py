"""Content: items' text embeddings (title, genres, tags; the engine's embedder) against
what the user liked and what their profile says they like. Profile "avoid" and "dislike"
memories demote the items that resemble them, so a stated dislike outweighs history.

It needs no interactions for a user with a profile: the cold-start path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import BaseRecommender
from .data import Interactions


def _unit(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = (m / norms).astype(np.float32)
    return out


class Content(BaseRecommender):
    """``item_vectors`` are the catalogue's embeddings, in the catalogue's item order."""

    name = "content"

    def __init__(self, item_vectors: np.ndarray | None = None, avoid_weight: float = 1.0) -> None:
        self.item_vectors = _unit(item_vectors) if item_vectors is not None else np.zeros((0, 0), np.float32)
        self.avoid_weight = avoid_weight

    def params(self) -> dict[str, Any]:
        return {"avoid_weight": self.avoid_weight}

    def _fit(self, data: Interactions) -> None:
        liked = data.liked()
        counts = np.asarray(liked.sum(axis=1)).ravel()
        fallback = self._seen
        # a user who liked nothing is described by everything they rated
        base = liked.multiply(counts[:, None] > 0) + fallback.multiply(counts[:, None] == 0)
        self.user_vectors = _unit(np.asarray(base @ self.item_vectors, dtype=np.float32))

    def score_users(self, users: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.user_vectors[users] @ self.item_vectors.T
        return out

    def profile_scores(self, likes: np.ndarray, avoids: np.ndarray, history: np.ndarray | None = None) -> np.ndarray:
        """Scores from stated preferences (rows of embeddings; either may be empty) and an
        optional history vector: likes raise similar items, avoids lower them."""
        n = self.item_vectors.shape[0]
        score = np.zeros(n, dtype=np.float32)
        if history is not None:
            score += self.item_vectors @ _unit(history)
        if len(likes):
            score += (self.item_vectors @ _unit(likes).T).max(axis=1)
        if len(avoids):
            score -= self.avoid_weight * np.clip(self.item_vectors @ _unit(avoids).T, 0, None).max(axis=1)
        return score

    def _state(self) -> dict[str, np.ndarray]:
        return {"item_vectors": self.item_vectors, "user_vectors": self.user_vectors}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.item_vectors, self.user_vectors = state["item_vectors"], state["user_vectors"]
