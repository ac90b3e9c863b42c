"""The one interface every recommender implements, and what they share: ranking, the
filters, saving to a file and loading without pickle.

A recommender scores every catalogue item for a user (``scores``); ranking, excluding
what the user has seen, filters and ties live here once. Ties are broken by catalogue
order (a fixed rule, so a ranking never depends on the run).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidInput, NotFound
from .data import Interactions

ItemFilter = Callable[[np.ndarray], np.ndarray]
"""Given item indexes, a bool mask of those allowed (attributes, availability, ...)."""


@runtime_checkable
class Recommender(Protocol):
    """What the engine, the CLI and the bench use: fit, rank, predict a rating."""

    name: str

    def fit(self, data: Interactions) -> Recommender: ...

    def recommend(
        self, user: str, k: int = 10, exclude_seen: bool = True, filters: ItemFilter | None = None
    ) -> list[tuple[str, float]]:
        """The user's top ``k`` items as (item id, score), best first."""
        ...

    def predict_rating(self, user: str, item: str) -> float: ...


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Indexes of the ``k`` best scores, best first; equal scores in index order."""
    s = scores.astype(np.float64, copy=True)
    if allowed is not None:
        s[~allowed] = -np.inf
    k = min(k, int(np.isfinite(s).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
    # stable order: by score descending, then index ascending; include ties at the border
    border = s[part].min()
    candidates = np.flatnonzero(s >= border)
    order = np.lexsort((candidates, -s[candidates]))
    return candidates[order][:k]


class BaseRecommender:
    """Shared by the built-in recommenders: subclasses implement ``_fit`` and
    ``score_users`` (and ``_state`` / ``_set_state`` to be saved)."""

    name: ClassVar[str] = "base"
    data: Interactions | None = None
    fingerprint: str = ""

    def params(self) -> dict[str, Any]:
        return {}

    def fit(self, data: Interactions) -> BaseRecommender:
        if len(data) == 0:
            raise InvalidInput("no interactions to fit on: add a catalogue and interactions first")
        self.data = data
        self.fingerprint = data.fingerprint()
        self._seen = data.matrix()
        self._recent = self.recency(data)
        self._fit(data)
        return self

    def _fit(self, data: Interactions) -> None:
        raise NotImplementedError

    def recency(self, data: Interactions) -> sp.csr_matrix:
        """How a user's history enters scoring: recency-weighted when the model has a
        ``half_life`` (see ``Interactions.recency_matrix``), else every item once."""
        return data.recency_matrix(getattr(self, "half_life", None))

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores (len(users) x items) for users given by index; higher is better."""
        raise NotImplementedError

    def _data(self) -> Interactions:
        if self.data is None:
            raise InvalidInput(f"the {self.name} recommender is not fitted")
        return self.data

    def seen(self, users: np.ndarray) -> sp.csr_matrix:
        return self._seen[users]

    def recommend(
        self, user: str, k: int = 10, exclude_seen: bool = True, filters: ItemFilter | None = None
    ) -> list[tuple[str, float]]:
        data = self._data()
        u = data.user_index(user)
        if u is None:
            raise NotFound(f"user {user!r} has no interactions the {self.name} model was fitted on")
        scores = self.score_users(np.array([u]))[0]
        return self.rank(scores, k, seen=self._seen[u].indices if exclude_seen else None, filters=filters)

    def rank(
        self, scores: np.ndarray, k: int, seen: np.ndarray | None = None, filters: ItemFilter | None = None
    ) -> list[tuple[str, float]]:
        data = self._data()
        allowed = np.ones(data.n_items, dtype=bool)
        if seen is not None:
            allowed[seen] = False
        if filters is not None:
            allowed &= filters(np.arange(data.n_items))
        return [(data.items[i], float(scores[i])) for i in top_k(scores, k, allowed)]

    def predict_rating(self, user: str, item: str) -> float:
        """A rating-scale guess: the item's mean rating (models with a rating head override)."""
        data = self._data()
        i = data.item_index(item)
        if i is None:
            raise NotFound(f"item {item!r} is not in the catalogue the model was fitted on")
        mask = (data.item_idx == i) & ~np.isnan(data.ratings)
        rated = data.ratings[~np.isnan(data.ratings)]
        if not len(rated):
            raise InvalidInput("the interactions carry no ratings to predict from")
        return float(data.ratings[mask].mean()) if mask.any() else float(rated.mean())

    # -- files ------------------------------------------------------------------------

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        pass

    def save(self, path: str | Path) -> Path:
        """One ``.npz`` (no pickle): the arrays, the training rows and a JSON header with the
        recommender's name, parameters and its training data's fingerprint."""
        data = self._data()
        header = {"name": self.name, "params": self.params(), "fingerprint": self.fingerprint}
        arrays = {f"state_{k}": v for k, v in self._state().items()}
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        arrays.update(
            header=np.array(json.dumps(header)),
            users=np.array(data.users, dtype=str),
            items=np.array(data.items, dtype=str),
            user_idx=data.user_idx,
            item_idx=data.item_idx,
            times=data.times,
            ratings=data.ratings,
        )
        with target.open("wb") as fh:
            np.savez_compressed(fh, allow_pickle=False, **arrays)
        return target


def read_model_file(path: str | Path) -> tuple[dict[str, Any], Interactions, dict[str, np.ndarray]]:
    """Header, training data and state of a saved model (``allow_pickle=False``)."""
    try:
        with np.load(Path(path), allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            data = Interactions(
                users=[str(u) for u in z["users"]],
                items=[str(i) for i in z["items"]],
                user_idx=z["user_idx"],
                item_idx=z["item_idx"],
                times=z["times"],
                ratings=z["ratings"],
            )
            state = {k.removeprefix("state_"): z[k] for k in z.files if k.startswith("state_")}
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidInput(f"{path} is not a saved recommender: {exc}") from exc
    return header, data, state
