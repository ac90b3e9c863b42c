"""Calibrators: turn a judge's raw probability into one that means what it says.

Two kinds, both symmetric in A and B (swapping the responses turns ``p`` into ``1 - p``
before and after), fitted on labelled pairs:

- ``temperature``: ``p' = sigmoid(logit(p) / T)``, one parameter, keeps the ranking;
- ``isotonic``: a non-decreasing step function of the confidence ``max(p, 1 - p)`` onto the
  accuracy observed there (pool-adjacent-violators), no shape assumed.

``fit_calibrator(kind="auto")`` picks between them by measurement: 5-fold cross-validated
Brier score on the fitting pairs. A calibrator is saved as a small JSON file named after
the model it was fitted for, under ``$TAILORED_HOME/judge/`` (home: ``./tailored-data``),
so a judge finds its model's calibrator by itself.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from ..errors import InvalidInput, NotFound
from .metrics import brier, confidence, correct

CalibratorKind = Literal["temperature", "isotonic"]
_EPS = 1e-6


class Calibrator(BaseModel):
    """A fitted calibrator; ``apply`` maps P(A preferred) to a calibrated P(A preferred)."""

    kind: CalibratorKind
    model: str = Field(description="the model it was fitted for")
    temperature: float = 1.0
    xs: list[float] = Field(default_factory=list, description="isotonic: confidence knots, ascending")
    ys: list[float] = Field(default_factory=list, description="isotonic: calibrated confidence at each knot")
    fitted_on: int = Field(0, description="labelled pairs it was fitted on")
    source: str = Field("tokens", description="the raw confidence it calibrates (tokens or verbal)")
    method: str = Field("pointwise", description="the reading it calibrates (pointwise or pairwise)")

    def apply(self, p: float) -> float:
        """The calibrated probability that A is preferred.

        Examples
        --------
        >>> Calibrator(kind="temperature", model="m", temperature=2.0).apply(0.5)
        0.5
        """
        if self.kind == "temperature":
            z = _logit(p) / self.temperature
            return 1.0 / (1.0 + math.exp(-z))
        c = max(p, 1.0 - p)
        cal = float(np.interp(c, self.xs, self.ys)) if self.xs else c
        cal = min(max(cal, 0.5), 1.0)
        return cal if p >= 0.5 else 1.0 - cal

    def apply_all(self, ps: Sequence[float]) -> list[float]:
        return [self.apply(p) for p in ps]


def _logit(p: float) -> float:
    q = min(max(p, _EPS), 1.0 - _EPS)
    return math.log(q / (1.0 - q))


def fit_temperature(p: Sequence[float], y: Sequence[int], model: str = "") -> Calibrator:
    """The temperature that minimises the log-loss of ``sigmoid(logit(p) / T)`` on the pairs."""
    z = np.array([_logit(v) for v in p])
    ya = np.asarray(y, dtype=np.float64)
    if not len(z):
        raise InvalidInput("fitting a calibrator needs labelled pairs")

    def loss(t: float) -> float:
        q = 1.0 / (1.0 + np.exp(-z / t))
        q = np.clip(q, _EPS, 1 - _EPS)
        return float(-np.mean(ya * np.log(q) + (1 - ya) * np.log(1 - q)))

    grid = np.exp(np.linspace(math.log(0.05), math.log(50.0), 300))
    best = float(min(grid, key=loss))
    lo, hi = best / 1.03, best * 1.03  # refine between the neighbouring grid points
    for _ in range(40):
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        if loss(m1) < loss(m2):
            hi = m2
        else:
            lo = m1
    return Calibrator(kind="temperature", model=model, temperature=(lo + hi) / 2, fitted_on=len(z))


def fit_isotonic(p: Sequence[float], y: Sequence[int], model: str = "") -> Calibrator:
    """A non-decreasing map of confidence onto accuracy (pool-adjacent-violators)."""
    c = confidence(p)
    ok = correct(p, y)
    if not len(c):
        raise InvalidInput("fitting a calibrator needs labelled pairs")
    order = np.argsort(c, kind="stable")
    # blocks of [sum of correct, count, max confidence]; merge while a block beats the next
    blocks: list[list[float]] = []
    for i in order:
        blocks.append([float(ok[i]), 1.0, float(c[i]), float(c[i])])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            s, n, lo, hi = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += n
            blocks[-1][3] = hi
    xs: list[float] = []
    ys: list[float] = []
    for s, n, lo, hi in blocks:
        level = s / n
        for x in (lo, hi) if hi > lo else (lo,):
            xs.append(x)
            ys.append(level)
    return Calibrator(kind="isotonic", model=model, xs=xs, ys=ys, fitted_on=len(c))


def cross_validated_brier(kind: CalibratorKind, p: Sequence[float], y: Sequence[int], folds: int = 5) -> float:
    """Brier score of ``kind`` fitted on four fifths of the pairs and applied to the rest."""
    pa = np.asarray(p, dtype=np.float64)
    ya = np.asarray(y, dtype=np.int64)
    idx = np.arange(len(pa))
    preds = np.empty(len(pa))
    fit = fit_temperature if kind == "temperature" else fit_isotonic
    for f in range(folds):
        test = idx % folds == f
        if not test.any() or test.all():
            continue
        cal = fit(list(pa[~test]), list(ya[~test]))
        preds[test] = cal.apply_all(list(pa[test]))
    return brier(list(preds), list(ya))


def fit_calibrator(
    p: Sequence[float],
    y: Sequence[int],
    *,
    model: str,
    kind: CalibratorKind | Literal["auto"] = "auto",
    source: str = "tokens",
    method: str = "pointwise",
) -> Calibrator:
    """A calibrator for ``model`` fitted on labelled pairs; ``auto`` picks the kind with the
    lower 5-fold cross-validated Brier score (temperature on a tie: fewer parameters)."""
    if len(p) != len(y) or len(p) < 2:
        raise InvalidInput("fitting a calibrator needs at least two labelled pairs")
    if kind == "auto":
        scores = {k: cross_validated_brier(k, p, y) for k in ("temperature", "isotonic")}
        kind = "isotonic" if scores["isotonic"] < scores["temperature"] else "temperature"
    fit = fit_temperature if kind == "temperature" else fit_isotonic
    cal = fit(p, y, model)
    return cal.model_copy(update={"source": source, "method": method})


def pick_threshold(p: Sequence[float], y: Sequence[int], target: float) -> float | None:
    """The lowest confidence threshold at which the pairs kept (confidence >= threshold)
    reach ``target`` accuracy, so that coverage is as large as the target allows; None if
    no threshold reaches it.

    Examples
    --------
    >>> pick_threshold([0.95, 0.9, 0.3, 0.6], [1, 1, 0, 0], target=1.0)
    0.7
    """
    if not 0.0 < target <= 1.0:
        raise InvalidInput("the target accuracy must be in (0, 1]")
    c = confidence(p)
    ok = correct(p, y)
    best: float | None = None
    for t in sorted(set(c.tolist()), reverse=True):
        kept = c >= t
        if ok[kept].mean() >= target - 1e-12:
            best = t
    return best


# -- saving with the model's name -------------------------------------------------------


def calibrators_dir() -> Path:
    """``$TAILORED_HOME/judge`` (home defaults to ``./tailored-data``)."""
    return Path(os.environ.get("TAILORED_HOME", "tailored-data")) / "judge"


def calibrator_path(model: str, folder: Path | None = None) -> Path:
    """Where the calibrator of ``model`` lives: its name made safe for a file name."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("._") or "model"
    return (folder or calibrators_dir()) / f"{safe}.calibrator.json"


def save_calibrator(cal: Calibrator, folder: Path | None = None) -> Path:
    path = calibrator_path(cal.model, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cal.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_calibrator(model: str, folder: Path | None = None) -> Calibrator:
    """The saved calibrator of ``model``; ``NotFound`` if there is none."""
    path = calibrator_path(model, folder)
    if not path.is_file():
        raise NotFound(f"no calibrator for {model} at {path}; fit one with 'tailored bench judge'")
    try:
        return Calibrator.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path} is not a judge calibrator: {exc}") from exc
