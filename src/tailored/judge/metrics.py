"""How good a judge's probabilities are: accuracy, coverage, ECE, Brier, AUROC.

Every function takes ``p``, the probability that response A is preferred, and ``y``, 1 where
A is the preferred one and 0 where B is. The winner is A when ``p > 0.5``; the confidence is
``max(p, 1 - p)``; a pair at exactly 0.5 is a tie and counts as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ECE_BINS = 10


def _arrays(p: Sequence[float], y: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    pa = np.asarray(p, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if pa.shape != ya.shape or pa.ndim != 1:
        raise ValueError("p and y must be two sequences of the same length")
    return pa, ya


def correct(p: Sequence[float], y: Sequence[int]) -> np.ndarray:
    """1.0 where the winner (A when ``p > 0.5``, B when ``p < 0.5``) is the labelled one."""
    pa, ya = _arrays(p, y)
    return np.where(pa > 0.5, ya == 1, np.where(pa < 0.5, ya == 0, False)).astype(np.float64)


def confidence(p: Sequence[float]) -> np.ndarray:
    pa = np.asarray(p, dtype=np.float64)
    return np.maximum(pa, 1.0 - pa)


def accuracy(p: Sequence[float], y: Sequence[int]) -> float:
    c = correct(p, y)
    return float(c.mean()) if len(c) else float("nan")


def brier(p: Sequence[float], y: Sequence[int]) -> float:
    """Mean squared error of ``p`` against ``y`` (0 is perfect, 0.25 is a coin at 0.5).

    Examples
    --------
    >>> brier([1.0, 0.5], [1, 0])
    0.125
    """
    pa, ya = _arrays(p, y)
    return float(np.mean((pa - ya) ** 2)) if len(pa) else float("nan")


def ece(p: Sequence[float], y: Sequence[int], bins: int = ECE_BINS) -> float:
    """Expected calibration error of the winner's confidence.

    The confidence ``max(p, 1 - p)`` lies in [0.5, 1]; it is cut into ``bins`` equal-width
    bins over [0.5, 1] (the last one closed), and ECE is the mean over pairs of
    |accuracy of the pair's bin - mean confidence of the bin|.

    Examples
    --------
    >>> round(ece([0.9, 0.9, 0.2, 0.6], [1, 0, 0, 1]), 3)  # bins at 0.9, 0.8 and 0.6
    0.35
    """
    c = confidence(p)
    ok = correct(p, y)
    if not len(c):
        return float("nan")
    idx = np.minimum(((c - 0.5) / 0.5 * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.sum() * abs(ok[mask].mean() - c[mask].mean())
    return float(total / len(c))


def ece_floor(p: Sequence[float], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The ECE a perfectly calibrated judge shows on pairs with these probabilities: labels
    drawn as ``y ~ Bernoulli(p)``, ``rounds`` times. (mean, 95th percentile.)

    ECE is biased upwards on few pairs: with 10 bins, even true probabilities read 0.05 or
    more on a few dozen pairs. A measured ECE near this floor says the calibration cannot be
    told apart from perfect at this sample size; one far above it says it is off.

    Examples
    --------
    >>> mean, high = ece_floor([0.9] * 40)
    >>> 0.02 < mean < high < 0.15
    True
    """
    pa = np.asarray(p, dtype=np.float64)
    if not len(pa):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = np.array([ece(pa.tolist(), (rng.random(len(pa)) < pa).astype(int).tolist()) for _ in range(rounds)])
    return float(draws.mean()), float(np.quantile(draws, 0.95))


def ece_interval(p: Sequence[float], y: Sequence[int], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """A bootstrap 95% interval of ``ece`` over pairs."""
    pa, ya = _arrays(p, y)
    if not len(pa):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        i = rng.integers(0, len(pa), len(pa))
        draws.append(ece(pa[i].tolist(), ya[i].astype(int).tolist()))
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def reliability(p: Sequence[float], y: Sequence[int], bins: int = ECE_BINS) -> list[tuple[float, float, int]]:
    """Per non-empty bin of ``ece``: (mean confidence, accuracy, pairs)."""
    c = confidence(p)
    ok = correct(p, y)
    idx = np.minimum(((c - 0.5) / 0.5 * bins).astype(int), bins - 1)
    return [
        (float(c[idx == b].mean()), float(ok[idx == b].mean()), int((idx == b).sum()))
        for b in range(bins)
        if (idx == b).any()
    ]


def coverage_curve(p: Sequence[float], y: Sequence[int]) -> list[tuple[float, float]]:
    """(coverage, accuracy) when only the most confident pairs are kept, for every cut."""
    c = confidence(p)
    ok = correct(p, y)
    order = np.argsort(-c, kind="stable")
    hits = np.cumsum(ok[order])
    n = len(c)
    return [((k + 1) / n, float(hits[k] / (k + 1))) for k in range(n)]


def accuracy_at_coverage(p: Sequence[float], y: Sequence[int], share: float) -> float:
    """Accuracy on the ``share`` most confident pairs (at least one)."""
    curve = coverage_curve(p, y)
    if not curve:
        return float("nan")
    k = max(1, int(round(share * len(curve))))
    return curve[k - 1][1]


def auroc(p: Sequence[float], y: Sequence[int]) -> float:
    """How well the confidence separates right from wrong verdicts (0.5: not at all).

    Examples
    --------
    >>> auroc([0.9, 0.6, 0.7, 0.45], [1, 1, 0, 1])
    0.75
    """
    c = confidence(p)
    ok = correct(p, y)
    pos, neg = c[ok == 1], c[ok == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))
