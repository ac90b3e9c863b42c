"""The both-orders rule: each pair is judged with A shown first and with B shown first.

A small model leans towards a position (often the first), which a single reading cannot
tell from a preference. Reading both orders and averaging the two probabilities that the
*same* response wins cancels a constant lean, and makes an inconsistent pair (each order
picks a different response) low confidence by construction: its two probabilities lie on
opposite sides of 0.5, so their mean lies within 0.25 of 0.5 (confidence at most 0.75),
and the closer the two are to agreeing on nothing, the closer it is to 0.5.
"""

from __future__ import annotations

from .models import Winner

TIE_MARGIN = 1e-9


def order_probability(p_first: float, p_second: float) -> float:
    """P(the first-shown response wins) from the two label probabilities of one reading,
    normalised over the two labels.

    Examples
    --------
    >>> round(order_probability(0.6, 0.2), 3)
    0.75
    """
    total = p_first + p_second
    return 0.5 if total <= 0 else p_first / total


def combine(p_ab: float, p_ba: float) -> float:
    """P(A preferred) from the reading with A first (``p_ab``: P(A wins)) and the reading
    with B first (``p_ba``: P(A wins) in that reading, i.e. of the second-shown label).

    Examples
    --------
    >>> combine(0.9, 0.7)  # both orders pick A
    0.8
    >>> combine(0.9, 0.1)  # each order picks the response shown first: no information
    0.5
    """
    return (p_ab + p_ba) / 2.0


def consistent(p_ab: float, p_ba: float) -> bool:
    """Both readings pick the same response (a reading at exactly 0.5 picks none)."""
    return (p_ab > 0.5 and p_ba > 0.5) or (p_ab < 0.5 and p_ba < 0.5)


def winner(p: float, tie_margin: float = TIE_MARGIN) -> Winner:
    if p > 0.5 + tie_margin:
        return "a"
    if p < 0.5 - tie_margin:
        return "b"
    return "tie"
