"""``tailored bench judge``'s pair construction: known answers on hand-made readings, and
the PrefEval pairs when the data is there (skipped otherwise)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailored.bench.judge import Reading, build_pairs, set_rows, stance_flipped
from tailored.judge import metrics as M

from ..conftest import data_root

PREFEVAL = data_root() / "prefeval"


def test_the_no_persona_control_is_a_coin_on_the_hard_set_by_construction() -> None:
    # a control that always prefers A, rightly on the stated preference of k1, wrongly on k2
    readings = [
        Reading("k1", "report", "none", 1, 3.0, -1.0, 0, True),
        Reading("k2", "report", "none", 0, 2.0, 0.0, 0, True),
        Reading("k3", "report", "none", 1, 1.0, 0.0, 0, False),  # its opposite failed the stance check
        Reading("k1", "report", "raw", 1, 2.0, -2.0, 1, True),
        Reading("k1", "report", "raw-opposite", 0, -2.0, 2.0, 1, True),
    ]
    hard_none = set_rows(readings, True, "none")
    assert len(hard_none) == 4 and M.accuracy([r.p for r in hard_none], [r.label for r in hard_none]) == 0.5
    assert len(set_rows(readings, False, "none")) == 3
    assert [r.condition for r in set_rows(readings, True, "raw")] == ["raw", "raw-opposite"]
    assert readings[0].p == pytest.approx(1 / (1 + pow(2.718281828459045, -4.0)))


def test_stance_check() -> None:
    assert stance_flipped("I can't stand loud bars.", "I love loud bars.")
    assert not stance_flipped("I refuse products tested on animals.", "I avoid products tested on animals.")
    assert not stance_flipped("Cats.", "I love cats.")


@pytest.mark.skipif(not PREFEVAL.is_dir(), reason=f"PrefEval not found at {PREFEVAL}")
def test_prefeval_pairs_are_seeded_split_by_topic_and_keep_the_aligned_option() -> None:
    import json

    pairs = build_pairs(Path(PREFEVAL), 10, 10, seed=0)
    assert pairs == build_pairs(Path(PREFEVAL), 10, 10, seed=0)
    fit = {p.topic for p in pairs if p.split == "fit"}
    report = {p.topic for p in pairs if p.split == "report"}
    assert len(fit) == len(report) == 10 and not fit & report
    for p in pairs[:5]:
        topic, index = p.topic, int(p.key.rsplit("/", 1)[1])
        options = json.loads((PREFEVAL / "mcq_options" / f"{topic}.json").read_text())[index]
        assert (
            p.aligned == options["classification_task_options"][0]
            and p.violating in options["classification_task_options"][1:]
        )
        assert {p.a, p.b} == {p.aligned, p.violating}
    assert 0 < sum(p.aligned_first for p in pairs) < len(pairs)


@pytest.mark.skipif(not PREFEVAL.is_dir(), reason=f"PrefEval not found at {PREFEVAL}")
def test_calibration_pairs_extend_the_report_topics_and_leave_the_report_pairs_as_they_were() -> None:
    plain = build_pairs(Path(PREFEVAL), 10, 12, seed=0)
    wider = build_pairs(Path(PREFEVAL), 10, 12, seed=0, calibration_limit=1000)  # more than there are
    assert [p for p in wider if p.split != "calibration"] == plain
    extra = [p for p in wider if p.split == "calibration"]
    report_topics = {p.topic for p in plain if p.split == "report"}
    assert extra and {p.topic for p in extra} == report_topics
    keys = [p.key for p in wider if p.split != "fit"]
    assert len(keys) == len(set(keys))  # no pair twice


def test_calibration_at_scale_reads_report_and_calibration_pairs_with_the_raw_persona() -> None:
    from tailored.bench.judge import calibration_at_scale
    from tailored.judge import Calibrator

    identity = Calibrator(kind="temperature", temperature=1.0, model="m")
    readings = [Reading("r", "report", "raw", 1, 2.0, 0.0), Reading("r", "report", "none", 1, 0.0, 0.0)]
    assert calibration_at_scale(readings, identity) is None  # no extra pairs: nothing more to say
    readings += [Reading(f"c{n}", "calibration", "raw", n % 2, 1.0, 0.0) for n in range(9)]
    scale = calibration_at_scale(readings, identity)
    assert scale is not None and scale["calibrated"]["pairs"] == 10
    assert scale["tokens"]["accuracy"] == pytest.approx(5 / 10)  # A wins everywhere: r, c1, c3, c5, c7 are right
