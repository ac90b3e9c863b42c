"""Popularity: how many users interacted with each item. The baseline every other
recommender must beat, and the prior for users with no history (cold start)."""

from __future__ import annotations

import numpy as np

from .base import BaseRecommender
from .data import Interactions


class Popularity(BaseRecommender):
    """Items by their number of distinct users."""

    name = "popularity"

    def _fit(self, data: Interactions) -> None:
        self.counts = np.asarray(data.matrix().sum(axis=0)).ravel().astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.counts = state["counts"]
