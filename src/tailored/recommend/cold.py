"""Cold start: ranking for a user with no interactions, from what they say they like.

A stated preference ("likes Comedy movies", "into dystopia") is matched against the
catalogue's labels (each item's ``genres`` and ``tags`` attributes, as whole words). An
item is then scored by its audience: how much the people whose liked items carry those
labels interacted with it (``audience``), blended in log space with plain popularity as
the prior. Scoring items by their own labels alone ranks the obscure films of a broad
genre as high as its classics; the audience view is what people into that genre watched.

A preference that names no label, a request (``ask``) and "avoid"/"dislike" memories go
through the item texts' embeddings instead (``Content.profile_scores``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..types import CatalogItem
from .content import Content
from .data import Interactions
from .hybrid import standardise

LABEL_ATTRIBUTES = ("genres", "tags")
"""The item attributes whose values count as labels a preference can name."""

POPULARITY_WEIGHT = 0.25
"""Popularity's share of the log-space blend; ``tailored bench recommend`` chose it on
MovieLens' validation items (from 0, 0.25, 0.5, 0.75, 1)."""

RECENT_DAYS: float | None = 365.0
"""The popularity prior's window before the request, in days (None: all time);
``tailored bench recommend`` chose it with the weight on MovieLens' validation items (from
all time, 90, 365 and 1095 days), and chooses both again on any other data it runs on."""

DAY_US = 86_400 * 1_000_000

_FLOOR = 1e-4
"""Added before the log, so an item nobody in the audience touched is low, not -inf."""


class Labels:
    """The catalogue's labels, which items carry them, and who is into them."""

    def __init__(self, data: Interactions, items: dict[str, CatalogItem]) -> None:
        names: dict[str, int] = {}
        rows, cols = [], []
        for i, item_id in enumerate(data.items):
            item = items.get(item_id)
            if item is None:
                continue
            for key in LABEL_ATTRIBUTES:
                values = item.attributes.get(key)
                for value in {str(v).strip().lower() for v in (values if isinstance(values, list) else [])}:
                    if value:
                        rows.append(i)
                        cols.append(names.setdefault(value, len(names)))
        self.names = list(names)
        self.item_labels = sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(data.n_items, len(names))
        )
        self._patterns = [re.compile(r"(?<!\w)" + re.escape(n) + r"(?!\w)") for n in self.names]
        liked = data.liked()
        counts = np.asarray(liked.sum(axis=1)).ravel()
        counts[counts == 0] = 1.0
        # user x label: the share of the user's liked items that carry the label
        self.user_labels = (sp.diags(1.0 / counts).astype(np.float32) @ (liked @ self.item_labels)).tocsr()
        fans = np.asarray(self.user_labels.sum(axis=0)).ravel()
        fans[fans == 0] = 1.0
        self._fans = fans
        self._seen = data.matrix().T.tocsr()  # items x users
        self.popularity = np.asarray(self._seen.sum(axis=1)).ravel() / max(data.n_users, 1)
        order = np.argsort(data.times, kind="stable")
        self._times, self._items = data.times[order], data.item_idx[order]
        self.newest = int(self._times[-1]) if len(self._times) else 0

    def recent(self, days: float | None, as_of: int | None = None) -> np.ndarray:
        """Each item's share of the interactions in the ``days`` before ``as_of`` (microseconds;
        default the newest interaction), or ``popularity`` where the window is empty or None."""
        if days is None:
            return self.popularity
        end = self.newest + 1 if as_of is None else as_of
        lo, hi = np.searchsorted(self._times, [end - int(days * DAY_US), end])
        if hi <= lo:
            return self.popularity
        out: np.ndarray = np.bincount(self._items[lo:hi], minlength=len(self.popularity)) / float(hi - lo)
        return out

    def match(self, texts: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """(label weights, the texts that named no label): a text counts once for each
        label it names."""
        q = np.zeros(len(self.names), dtype=np.float32)
        unmatched = []
        for text in texts:
            low = text.lower()
            hits = [j for j, p in enumerate(self._patterns) if p.search(low)]
            q[hits] += 1.0
            if not hits:
                unmatched.append(text)
        return q, unmatched

    def audience(self, q: np.ndarray) -> np.ndarray:
        """Per item, the mean over the named labels of the share of the label's fans (each
        user weighted by how much of what they liked carries it) who interacted with it."""
        per_user = self.user_labels @ (q / self._fans)
        out: np.ndarray = self._seen @ per_user / max(float(q.sum()), 1.0)
        return out.astype(np.float32)


def cold_scores(
    labels: Labels,
    content: Content | None,
    likes: Sequence[str],
    like_vectors: np.ndarray,
    avoids: np.ndarray,
    history: np.ndarray | None = None,
    popularity_weight: float = POPULARITY_WEIGHT,
    recent_days: float | None = RECENT_DAYS,
    as_of: int | None = None,
) -> np.ndarray:
    """Scores for a user the model has never seen. ``likes`` are the stated preferences
    (and request) as text, ``like_vectors`` their embeddings in the same order; labels they
    name pick the audience, the rest (and avoids, and any history since) go through the
    item texts; the prior is popularity in the ``recent_days`` before ``as_of``."""
    q, unmatched = labels.match(likes)
    prior = np.log(labels.recent(recent_days, as_of) + _FLOOR)
    if q.any():
        prior = popularity_weight * prior + (1 - popularity_weight) * np.log(labels.audience(q) + _FLOOR)
    base: np.ndarray = standardise(prior[None, :])[0]
    rest = like_vectors[[n for n, t in enumerate(likes) if t in unmatched]] if len(like_vectors) else like_vectors
    if content is not None and (len(rest) or len(avoids) or history is not None):
        base = base + standardise(content.profile_scores(rest, avoids, history)[None, :])[0]
    return base
