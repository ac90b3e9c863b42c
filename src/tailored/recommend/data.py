"""Interactions as arrays: the one input every recommender fits on.

Users and items get dense indexes (items follow the catalogue, so every recommender ranks
the same item space, items nobody touched included). The fingerprint names exactly the
rows a model was fitted on, so a saved model can tell that it is stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ..store.base import Interaction

LIKE_THRESHOLD = 4.0
"""A rating at or above this counts as liked (explanations, content profiles)."""


@dataclass
class Interactions:
    """Rows of (user, item, time, rating) over fixed user and item index maps."""

    users: list[str]
    items: list[str]
    user_idx: np.ndarray  # int32
    item_idx: np.ndarray  # int32
    times: np.ndarray  # int64 microseconds
    ratings: np.ndarray  # float32, nan where the interaction has no rating
    _user_pos: dict[str, int] = field(default_factory=dict, repr=False)
    _item_pos: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._user_pos = {u: i for i, u in enumerate(self.users)}
        self._item_pos = {it: i for i, it in enumerate(self.items)}

    @classmethod
    def from_rows(cls, rows: Sequence[Interaction], items: Sequence[str]) -> Interactions:
        """Rows whose item is not in ``items`` are left out (an item removed from the catalogue)."""
        item_pos = {it: i for i, it in enumerate(items)}
        kept = [r for r in rows if r.item_id in item_pos]
        users = sorted({r.user_id for r in kept})
        user_pos = {u: i for i, u in enumerate(users)}
        order = sorted(range(len(kept)), key=lambda i: (kept[i].time_us, kept[i].event_id))
        return cls(
            users=users,
            items=list(items),
            user_idx=np.array([user_pos[kept[i].user_id] for i in order], dtype=np.int32),
            item_idx=np.array([item_pos[kept[i].item_id] for i in order], dtype=np.int32),
            times=np.array([kept[i].time_us for i in order], dtype=np.int64),
            ratings=np.array([np.nan if kept[i].rating is None else kept[i].rating for i in order], dtype=np.float32),
        )

    def __len__(self) -> int:
        return len(self.user_idx)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def user_index(self, user: str) -> int | None:
        return self._user_pos.get(user)

    def item_index(self, item: str) -> int | None:
        return self._item_pos.get(item)

    def subset(self, mask: np.ndarray) -> Interactions:
        """The rows where ``mask`` holds, over the same index maps."""
        return Interactions(
            users=self.users,
            items=self.items,
            user_idx=self.user_idx[mask],
            item_idx=self.item_idx[mask],
            times=self.times[mask],
            ratings=self.ratings[mask],
        )

    def matrix(self) -> sp.csr_matrix:
        """users x items, 1 where the user interacted (repeats count once)."""
        m = sp.csr_matrix(
            (np.ones(len(self), dtype=np.float32), (self.user_idx, self.item_idx)),
            shape=(self.n_users, self.n_items),
        )
        m.data[:] = 1.0
        return m

    def recency_matrix(self, half_life: float | None, last: int | None = None) -> sp.csr_matrix:
        """Like ``matrix``, but an item the user met ``p`` interactions before their latest
        one weighs ``0.5 ** (p / half_life)``: recent tastes count more (None: all 1). With
        ``last``, only each user's ``last`` latest interactions count."""
        if half_life is None and last is None:
            return self.matrix()
        order = np.lexsort((np.arange(len(self)), self.user_idx))  # by user, then time
        users = self.user_idx[order]
        ends = np.searchsorted(users, users, side="right")
        back = (ends - 1) - np.arange(len(order))  # rows between this one and the user's last
        weights = (np.power(0.5, back / half_life) if half_life else np.ones(len(back))).astype(np.float32)
        keep = back < last if last is not None else np.ones(len(back), dtype=bool)
        m = sp.coo_matrix(
            (weights[keep], (users[keep], self.item_idx[order][keep])), shape=(self.n_users, self.n_items)
        ).tocsr()
        m.sum_duplicates()
        return m

    def sequences(self) -> list[np.ndarray]:
        """Each user's items in time order (rows are kept sorted by time)."""
        order = np.argsort(self.user_idx, kind="stable")
        bounds = np.searchsorted(self.user_idx[order], np.arange(self.n_users + 1))
        return [self.item_idx[order[bounds[u] : bounds[u + 1]]] for u in range(self.n_users)]

    def liked(self) -> sp.csr_matrix:
        """users x items, 1 for a rating >= ``LIKE_THRESHOLD`` or an unrated interaction."""
        keep = np.isnan(self.ratings) | (self.ratings >= LIKE_THRESHOLD)
        m = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (self.user_idx[keep], self.item_idx[keep])),
            shape=(self.n_users, self.n_items),
        )
        m.data[:] = 1.0
        return m

    def fingerprint(self) -> str:
        """sha256 (16 hex) of the item list and every row: equal data, equal fingerprint."""
        h = hashlib.sha256()
        h.update("\x00".join(self.items).encode())
        h.update(b"\x01")
        h.update("\x00".join(self.users).encode())
        for arr in (self.user_idx, self.item_idx, self.times, np.nan_to_num(self.ratings, nan=-1.0)):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]
