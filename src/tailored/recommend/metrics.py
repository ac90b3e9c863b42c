"""Ranking metrics with ties broken exactly, and the chronological splits they need.

Full ranking: the held-out item is ranked against every catalogue item the user has not
interacted with in training. A tie does not count in the model's favour or against it:
with ``g`` items scoring above the target and ``t`` others scoring the same, the target's
position is uniform over ``g .. g + t``, and HR@k and NDCG@k are their expectations over
that position (so a model that scores everything 0 gets the random-ranking value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .data import Interactions


def expected_hit_ndcg(greater: int, ties: int, k: int = 10) -> tuple[float, float]:
    """Expected HR@k and NDCG@k of a target with ``greater`` items above it and ``ties``
    others equal to it (0-based position uniform over greater .. greater + ties)."""
    if greater >= k:
        return 0.0, 0.0
    positions = np.arange(greater, min(greater + ties, k - 1) + 1)
    n = ties + 1
    return len(positions) / n, float((1.0 / np.log2(positions + 2)).sum() / n)


def rank_metrics(
    scores: np.ndarray, targets: np.ndarray, seen: sp.csr_matrix, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Per-user HR@k and NDCG@k for a block of users: ``scores`` (users x items), each
    user's held-out item, and the items they saw in training (left out of the ranking)."""
    hits = np.zeros(len(targets))
    ndcgs = np.zeros(len(targets))
    for row in range(len(targets)):
        s = scores[row].astype(np.float64)
        target = targets[row]
        excluded = seen.indices[seen.indptr[row] : seen.indptr[row + 1]]
        mask = np.ones(len(s), dtype=bool)
        mask[excluded] = False
        mask[target] = False
        t = s[target]
        others = s[mask]
        hits[row], ndcgs[row] = expected_hit_ndcg(int((others > t).sum()), int((others == t).sum()), k)
    return hits, ndcgs


def sampled_metrics(
    scores: np.ndarray, targets: np.ndarray, seen: sp.csr_matrix, rng: np.random.Generator, n: int = 100, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The 1-of-``n`` sampled variant (target against ``n - 1`` random unseen items): shown
    only beside the full-ranking figures, since it can reorder models."""
    hits = np.zeros(len(targets))
    ndcgs = np.zeros(len(targets))
    n_items = scores.shape[1]
    for row in range(len(targets)):
        excluded = set(seen.indices[seen.indptr[row] : seen.indptr[row + 1]].tolist()) | {int(targets[row])}
        pool = np.setdiff1d(np.arange(n_items), np.fromiter(excluded, dtype=np.int64))
        sample = rng.choice(pool, size=min(n - 1, len(pool)), replace=False)
        s = scores[row].astype(np.float64)
        t = s[targets[row]]
        others = s[sample]
        hits[row], ndcgs[row] = expected_hit_ndcg(int((others > t).sum()), int((others == t).sum()), k)
    return hits, ndcgs


@dataclass
class LeaveLastOut:
    """Each user's last interaction (by time, then event order) held out as the target."""

    train: Interactions
    users: np.ndarray  # indexes of users with a target
    targets: np.ndarray  # their held-out item


def leave_last_out(data: Interactions, min_train: int = 1) -> LeaveLastOut:
    """Hold out every user's last row; users with fewer than ``min_train`` other rows keep
    all of theirs in training and get no target."""
    last = np.full(data.n_users, -1, dtype=np.int64)
    last[data.user_idx] = np.arange(len(data))  # rows are in time order: the last write wins
    counts = np.bincount(data.user_idx, minlength=data.n_users)
    users = np.flatnonzero((last >= 0) & (counts > min_train))
    held = np.zeros(len(data), dtype=bool)
    held[last[users]] = True
    train = data.subset(~held)
    targets = data.item_idx[last[users]]
    # an item seen again before its last appearance is not a new item: drop such users
    seen = train.matrix()
    fresh = np.array([seen[u, t] == 0 for u, t in zip(users, targets)], dtype=bool)
    return LeaveLastOut(train=train, users=users[fresh], targets=targets[fresh])


def paired_bootstrap(a: np.ndarray, b: np.ndarray, rounds: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over users with a 95% percentile interval from resampling users."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(rounds, len(diff)))
    means = diff[idx].mean(axis=1)
    return float(diff.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
