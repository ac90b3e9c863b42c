"""Hybrid: a weighted blend of other recommenders' scores, each standardised per user
(zero mean, unit spread over the catalogue) so that no model's scale dominates. The
weights are chosen on a validation split (``tune_weights``), never on test items."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import BaseRecommender
from .data import Interactions


def standardise(scores: np.ndarray) -> np.ndarray:
    s = scores.astype(np.float32)
    mean = s.mean(axis=1, keepdims=True)
    std = s.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    out: np.ndarray = (s - mean) / std
    return out


def blend(parts: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    out = np.zeros_like(parts[0], dtype=np.float32)
    for part, w in zip(parts, weights):
        if w:
            out += w * part
    return out


def tune_weights(
    parts: Sequence[np.ndarray],
    metric: Callable[[np.ndarray], float],
    grid: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0),
    rounds: int = 2,
) -> list[float]:
    """Coordinate ascent over ``grid`` for each part's weight, keeping a change only when
    ``metric`` of the blend improves. It starts from the best part alone (weight 1, the
    others 0) and visits the parts from best to worst: a weak first part would otherwise
    anchor the search."""
    std = [standardise(p) for p in parts]
    alone = [metric(p) for p in std]
    first = int(np.argmax(alone))
    weights = [0.0] * len(parts)
    weights[first] = 1.0
    best = alone[first]
    for _ in range(rounds):
        improved = False
        for j in np.argsort(alone, kind="stable")[::-1]:
            for w in grid:
                if w == weights[j]:
                    continue
                trial = list(weights)
                trial[j] = w
                if not any(trial):
                    continue
                value = metric(blend(std, trial))
                if value > best + 1e-9:
                    best, weights, improved = value, trial, True
        if not improved:
            break
    return weights


class Hybrid(BaseRecommender):
    name = "hybrid"

    def __init__(self, components: Sequence[BaseRecommender], weights: Sequence[float]) -> None:
        self.components = list(components)
        self.weights = list(weights)

    def params(self) -> dict[str, Any]:
        parts = [{"name": c.name, "params": c.params()} for c in self.components]
        return {"parts": parts, "weights": self.weights}

    def _fit(self, data: Interactions) -> None:
        for c in self.components:  # every part, weighted or not: cold start uses content and popularity
            if c.data is not data:
                c.fit(data)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        parts = [standardise(c.score_users(users)) if w else None for c, w in zip(self.components, self.weights)]
        out = np.zeros((len(users), self._data().n_items), dtype=np.float32)
        for part, w in zip(parts, self.weights):
            if part is not None:
                out += w * part
        return out

    def _state(self) -> dict[str, np.ndarray]:
        state: dict[str, np.ndarray] = {"weights": np.array(self.weights, dtype=np.float64)}
        for n, c in enumerate(self.components):
            state.update({f"c{n}__{k}": v for k, v in c._state().items()})
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights = [float(w) for w in state["weights"]]
        for n, c in enumerate(self.components):
            prefix = f"c{n}__"
            c.data, c._seen = self.data, self._seen
            c._recent = c.recency(self._data())
            c._set_state({k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)})
