"""The pure retrieval maths, each on a tiny input with a known answer."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tailored.retrieve.index import make_view
from tailored.retrieve.query import DateSpec
from tailored.retrieve.search import (
    RetrievalConfig,
    best_rows,
    date_match,
    diversify,
    fuse,
    normalise,
    rank_among,
    session_prior,
    smooth,
)
from tailored.store.base import UserIndexData


def _view(sessions: list[str | None], days: list[str] | None = None):  # type: ignore[no-untyped-def]
    n = len(sessions)
    times = [datetime.fromisoformat(d).replace(tzinfo=UTC) for d in (days or ["2023-01-01"] * n)]
    data = UserIndexData(
        ids=np.arange(1, n + 1, dtype=np.int64),
        times_us=np.array([int(t.timestamp() * 1_000_000) for t in times], dtype=np.int64),
        sessions=sessions,
        kinds=["message"] * n,
        vectors=np.zeros((n, 2), dtype=np.float32),
        has_vector=np.ones(n, dtype=bool),
        texts=[f"row {i}" for i in range(n)],
        roles=[None] * n,
    )
    return make_view(data)


def test_best_rows_best_first_ties_by_position() -> None:
    s = np.array([0.1, 0.5, 0.9, 0.5, 0.2])
    assert best_rows(s, 3).tolist() == [2, 1, 3]
    assert best_rows(s, 2).tolist() == [2, 1]
    assert best_rows(s, 9).tolist() == [2, 1, 3, 4, 0]


def test_rank_among_is_one_based_ties_by_position() -> None:
    s = np.array([0.1, 0.5, 0.9, 0.5])
    assert [rank_among(s, r) for r in range(4)] == [4, 2, 1, 3]


def test_normalise_keeps_a_lone_or_tied_match_at_one() -> None:
    assert normalise(np.array([2.5])).tolist() == [1.0]  # a user with one matching event
    assert normalise(np.array([0.0])).tolist() == [0.0]  # ... and one that does not match
    assert normalise(np.array([0.3, 0.3, 0.3])).tolist() == [1.0, 1.0, 1.0]
    assert normalise(np.array([0.0, 0.0, 4.0, 2.0, 0.0])).tolist() == [0.0, 0.0, 1.0, 0.5, 0.0]


def test_fuse_weighted_sums_median_max_normalised_scores() -> None:
    b = np.array([0.0, 0.0, 4.0, 2.0, 0.0])
    d = np.array([0.1, 0.9, 0.1, 0.5, 0.2])
    cfg = RetrievalConfig(adaptive=False)
    # b: median 0, max 4 -> [0, 0, 1, .5, 0]; d: median .2, max .9 -> clipped [0, 1, 0, 3/7, 0]
    assert fuse(b, d, cfg).tolist() == pytest.approx([0.0, 1.0, 1.0, 0.5 + 3 / 7, 0.0])
    assert fuse(b, d, cfg.with_(dense_weight=0.0)).tolist() == pytest.approx([0.0, 0.0, 1.0, 0.5, 0.0])


def test_fuse_rrf_counts_bm25_only_where_it_matched() -> None:
    b = np.array([0.0, 3.0, 1.0])
    d = np.array([0.3, 0.2, 0.1])
    got = fuse(b, d, RetrievalConfig(fusion="rrf", rrf_k=60))
    assert got.tolist() == pytest.approx([1 / 61, 1 / 61 + 1 / 62, 1 / 62 + 1 / 63])


def test_smooth_adds_a_share_of_the_session_neighbours() -> None:
    view = _view(["s1", "s1", "s1", "s2"])
    got = smooth(np.array([1.0, 0.0, 2.0, 4.0]), view, 0.5)
    assert got.tolist() == pytest.approx([1.0, 0.75, 2.0, 4.0])  # row 3 has no neighbour in s2


def test_session_prior_adds_the_best_score_of_the_session() -> None:
    view = _view(["s1", "s1", "s2", None])
    got = session_prior(np.array([1.0, 2.0, 3.0, 5.0]), view, 0.5)
    assert got.tolist() == pytest.approx([2.0, 3.0, 4.5, 5.0])  # a row without a session gets nothing


def test_date_match_full_near_the_date_half_soon_after() -> None:
    view = _view([None] * 5, ["2023-06-02", "2023-06-03", "2023-06-10", "2023-06-30", "2022-06-03"])
    assert date_match(view, [DateSpec(2023, 6, 3)]).tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert date_match(view, [DateSpec(2023, 6)]).tolist() == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert date_match(view, [DateSpec(2022)]).tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert date_match(view, [DateSpec(None, 5)]).tolist() == [0.5, 0.5, 0.5, 0.5, 0.5]  # June follows May


def test_diversify_spreads_the_head_over_sessions() -> None:
    view = _view(["s1", "s1", "s2", "s3"])
    s = np.array([1.0, 0.95, 0.5, -np.inf])
    assert diversify(s, view, 3, 0.0, 5) == [0, 1, 2]
    # The second s1 row scores 0.95 x 0.4 = 0.38 while s1 already leads: s2 comes first.
    assert diversify(s, view, 3, 0.6, 5) == [0, 2, 1]
    assert diversify(s, view, 9, 0.6, 5) == [0, 2, 1]  # a row scored -inf is never picked
