"""The both-orders rule and the parsing of the model's verbal verdict."""

from __future__ import annotations

import itertools

import pytest

from tailored.judge.combine import combine, consistent, order_probability, winner
from tailored.judge.verbal import Verbal, parse_verdict, verbal_probability


def test_a_constant_lean_towards_the_first_position_cancels() -> None:
    # the model adds +0.3 to whatever is shown first; the pair itself is a coin
    assert combine(0.5 + 0.3, 0.5 - 0.3) == pytest.approx(0.5)
    # the same lean on a pair that favours A by 0.1 in each order
    assert combine(0.6 + 0.3, 0.6 - 0.3) == pytest.approx(0.6)


@pytest.mark.parametrize("p_ab,p_ba", list(itertools.product([0.01, 0.3, 0.49, 0.51, 0.8, 0.99], repeat=2)))
def test_an_inconsistent_pair_is_low_confidence_by_construction(p_ab: float, p_ba: float) -> None:
    p = combine(p_ab, p_ba)
    if not consistent(p_ab, p_ba):
        assert max(p, 1 - p) <= 0.75
    else:
        assert winner(p) == ("a" if p_ab > 0.5 else "b")
    assert combine(1 - p_ba, 1 - p_ab) == pytest.approx(1 - p)  # the caller's order does not matter


def test_ties_and_normalisation() -> None:
    assert winner(0.5) == "tie" and winner(0.51) == "a" and winner(0.2) == "b"
    assert not consistent(0.5, 0.9)
    assert order_probability(0.3, 0.1) == pytest.approx(0.75) and order_probability(0.0, 0.0) == 0.5


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"rationale": "r", "items": [1], "winner": "A", "confidence": 9}', ("a", 9, [1])),
        ('```json\n{"winner": "Response B", "confidence": "7/10", "items": [2, 3]}\n```', ("b", 7, [2, 3])),
        ('Sure! Here it is: {"winner": "b", "confidence": 0.8} Hope that helps.', ("b", 8, [])),
        ('{"winner": "tie", "confidence": 3, "items": "none"}', ("tie", 3, [])),
        ('{"winner": "first", "confidence": 10.0, "items": [true, 2]}', ("a", 10, [2])),
    ],
)
def test_verbal_verdicts_parse(text: str, expected: tuple[str, int, list[int]]) -> None:
    v = parse_verdict(text)
    assert v is not None and (v.winner, v.confidence, v.items) == expected


@pytest.mark.parametrize(
    "text",
    [
        "A is better",
        '{"winner": "C", "confidence": 5}',
        '{"winner": "A", "confidence": 11}',
        '{"winner": "A"}',
        '{"winner": "A", "confidence": true}',
        "[1, 2]",
        '{"winner": "A", "confidence": 5',
    ],
)
def test_unusable_verdicts_are_none_not_guesses(text: str) -> None:
    assert parse_verdict(text) is None


def test_verbal_probability_runs_from_a_coin_to_certainty() -> None:
    assert verbal_probability(Verbal(winner="a", confidence=1)) == 0.5
    assert verbal_probability(Verbal(winner="a", confidence=10)) == 1.0
    assert verbal_probability(Verbal(winner="b", confidence=10)) == 0.0
    assert verbal_probability(Verbal(winner="tie", confidence=10)) == 0.5
