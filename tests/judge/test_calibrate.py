"""Calibration maths on data small enough to check by hand: ECE, Brier, AUROC, the two
calibrators, the threshold helper and saving a calibrator under the model's name."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from tailored.errors import InvalidInput, NotFound
from tailored.judge import Calibrator, fit_calibrator, load_calibrator, pick_threshold, save_calibrator
from tailored.judge import metrics as M
from tailored.judge.calibrate import calibrator_path, fit_isotonic, fit_temperature


def test_brier_and_accuracy_by_hand() -> None:
    p, y = [0.9, 0.2, 0.6, 0.5], [1, 0, 0, 1]
    # (0.1^2 + 0.2^2 + 0.6^2 + 0.5^2) / 4
    assert M.brier(p, y) == pytest.approx((0.01 + 0.04 + 0.36 + 0.25) / 4)
    # right, right, wrong (A picked, B preferred), tie counts as wrong
    assert M.correct(p, y).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert M.accuracy(p, y) == 0.5


def test_ece_bins_by_hand() -> None:
    # confidences 0.95 and 0.95 (bin 9: one right, one wrong), 0.75 and 0.75 (bin 5: both right)
    p, y = [0.95, 0.05, 0.75, 0.25], [1, 1, 1, 0]
    # bin 9: |0.5 - 0.95| * 2 = 0.9; bin 5: |1.0 - 0.75| * 2 = 0.5; (0.9 + 0.5) / 4
    assert M.ece(p, y) == pytest.approx(0.35)
    assert M.reliability(p, y) == [(0.75, 1.0, 2), (0.95, 0.5, 2)]
    assert M.ece([0.8, 0.8, 0.8, 0.8, 0.8], [1, 1, 1, 1, 0]) == pytest.approx(0.0)


def test_a_confidence_of_exactly_one_lands_in_the_last_bin() -> None:
    assert M.ece([1.0, 0.0], [1, 0]) == 0.0 and M.reliability([1.0], [1]) == [(1.0, 1.0, 1)]


def test_auroc_and_coverage_curve() -> None:
    p, y = [0.9, 0.6, 0.7, 0.45], [1, 1, 0, 1]
    assert M.auroc(p, y) == pytest.approx(0.75)
    assert M.coverage_curve(p, y) == [(0.25, 1.0), (0.5, 0.5), (0.75, 2 / 3), (1.0, 0.5)]
    assert M.accuracy_at_coverage(p, y, 0.5) == 0.5


def test_pick_threshold_keeps_as_many_pairs_as_the_target_allows() -> None:
    p, y = [0.95, 0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1, 1]
    assert pick_threshold(p, y, 1.0) == 0.9  # 0.8 is wrong: keep the two above it
    assert pick_threshold(p, y, 0.8) == 0.6  # 4 of 5 right when all are kept
    assert pick_threshold([0.6, 0.7], [0, 0], 0.9) is None
    with pytest.raises(InvalidInput):
        pick_threshold(p, y, 0.0)


def test_temperature_softens_an_overconfident_judge() -> None:
    rng = random.Random(0)
    # says 0.95 for A, but A is right only 70% of the time
    p = [0.95] * 200
    y = [1 if rng.random() < 0.7 else 0 for _ in p]
    cal = fit_temperature(p, y, "m")
    share = sum(y) / len(y)
    assert cal.temperature > 1 and cal.apply(0.95) == pytest.approx(share, abs=0.01)
    assert cal.apply(0.5) == 0.5 and cal.apply(0.05) == pytest.approx(1 - cal.apply(0.95))  # symmetric


def test_isotonic_maps_confidence_onto_observed_accuracy() -> None:
    # confidence 0.6: 1 of 2 right; 0.7: 0 of 1 (pooled with 0.6 since it is lower); 0.9: 2 of 2
    p, y = [0.6, 0.4, 0.7, 0.9, 0.1], [1, 1, 0, 1, 0]
    cal = fit_isotonic(p, y, "m")
    assert cal.xs == [0.6, 0.7, 0.9] and cal.ys == pytest.approx([1 / 3, 1 / 3, 1.0])
    assert cal.apply(0.9) == 1.0 and cal.apply(0.1) == 0.0
    assert cal.apply(0.65) == 0.5  # accuracy below a coin is floored at 0.5: no verdict
    assert cal.apply(0.8) == pytest.approx(1 - cal.apply(0.2))


def test_auto_picks_the_kind_by_cross_validated_brier() -> None:
    rng = random.Random(1)
    # a step: confidence below 0.8 is a coin, above it always right; temperature cannot fit that
    p, y = [], []
    for _ in range(300):
        c = rng.uniform(0.5, 1.0)
        right = rng.random() < 0.5 if c < 0.8 else True
        a_wins = rng.random() < 0.5
        p.append(c if a_wins else 1 - c)
        y.append(int(a_wins == right))
    assert fit_calibrator(p, y, model="m").kind == "isotonic"
    # a judge that is well calibrated up to a temperature: the one-parameter fit wins
    p2, y2 = [], []
    for _ in range(300):
        z = rng.gauss(0, 2)
        q = 1 / (1 + math.exp(-z / 3))  # the true probability, from a softer logit
        p2.append(1 / (1 + math.exp(-z)))
        y2.append(int(rng.random() < q))
    assert fit_calibrator(p2, y2, model="m").kind == "temperature"


def test_a_calibrator_is_saved_under_the_home_by_model_name(tmp_path: Path) -> None:
    cal = Calibrator(kind="temperature", model="openai:gpt-4o/mini", temperature=2.5, fitted_on=10)
    path = save_calibrator(cal)
    assert path == calibrator_path("openai:gpt-4o/mini")
    assert path.parent == tmp_path / "home" / "judge"  # $TAILORED_HOME, set by conftest
    assert "/" not in path.name and json.loads(path.read_text())["temperature"] == 2.5
    assert load_calibrator("openai:gpt-4o/mini") == cal
    with pytest.raises(NotFound, match="no calibrator for other"):
        load_calibrator("other")
    calibrator_path("broken").write_text("{not json")
    with pytest.raises(InvalidInput, match="not a judge calibrator"):
        load_calibrator("broken")


def test_fitting_needs_pairs() -> None:
    with pytest.raises(InvalidInput):
        fit_calibrator([0.7], [1], model="m")
