""" "Because you liked X" without an LLM: for a recommended item, the items the user
interacted with that are most similar to it (cosine over who else interacted with both),
best liked first. Every cited item is one the user really interacted with."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .data import LIKE_THRESHOLD, Interactions
from .knn import item_similarity


class Explainer:
    """Built once per fitted data set; ``because`` is a few sparse lookups per item."""

    def __init__(self, data: Interactions, neighbours: int = 200) -> None:
        self.data = data
        self.sim: sp.csr_matrix = item_similarity(data.matrix(), neighbours)

    def because(self, user: str, item: str, n: int = 2) -> list[str]:
        """Ids of up to ``n`` items the user liked (else interacted with) most like ``item``."""
        u, i = self.data.user_index(user), self.data.item_index(item)
        if u is None or i is None:
            return []
        rows = self.data.user_idx == u
        items = self.data.item_idx[rows]
        ratings = self.data.ratings[rows]
        liked = items[np.isnan(ratings) | (ratings >= LIKE_THRESHOLD)]
        pool = np.unique(liked if len(liked) else items)
        row = self.sim[i]
        sims = dict(zip(row.indices.tolist(), row.data.tolist()))
        ranked = sorted(((sims.get(int(j), 0.0), int(j)) for j in pool if int(j) != i), reverse=True)
        return [self.data.items[j] for s, j in ranked[:n] if s > 0]
