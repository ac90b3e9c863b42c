"""BM25 over one user's rows: known answers, incremental updates, and isolation between users."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailored import Engine
from tailored.retrieve.bm25 import ROLE_WEIGHT, TermIndex, build, coverage, extend, idf, scores
from tailored.retrieve.index import UserIndexCache
from tailored.store.base import Scope


def test_idf_is_lucenes_and_never_negative() -> None:
    assert idf(2, 1) == pytest.approx(math.log(2.0))
    assert idf(10, 10) == pytest.approx(math.log(1 + 0.5 / 10.5))
    assert idf(10, 10) > 0


def test_scores_are_okapi_bm25_by_hand() -> None:
    index = build(["apple apple banana", "banana cherry"], [None, None])
    k1, b, avg = 1.2, 0.75, 2.5
    norm = k1 * (1 - b + b * 3 / avg)
    expected = math.log(2.0) * 2 * (k1 + 1) / (2 + norm)  # 'appl': df 1 of 2 rows, tf 2 in row 0
    assert scores(index, ["appl"]).tolist() == pytest.approx([expected, 0.0])
    assert scores(index, ["appl", "appl"]).tolist() == pytest.approx([expected, 0.0])  # a term counts once
    assert scores(index, ["durian"]).tolist() == [0.0, 0.0]
    banana = scores(index, ["banana"])
    assert banana[1] > banana[0] > 0  # same tf, the shorter row wins


def test_a_role_counts_half_and_adds_to_the_length() -> None:
    index = build(["hello there", "hello"], ["Caroline", None])
    rows, counts = index.postings["carolin"]
    assert rows.tolist() == [0] and counts.tolist() == [ROLE_WEIGHT]
    assert index.lengths.tolist() == [3.0, 1.0]


def test_coverage_is_the_idf_weighted_share_of_the_query() -> None:
    index = build(["red car", "red bike", "blue bike", "green tram"], [None] * 4)
    cov = coverage(index, ["red", "car"])
    w_red, w_car = idf(4, 2), idf(4, 1)
    assert cov.tolist() == pytest.approx([1.0, w_red / (w_red + w_car), 0.0, 0.0])
    assert coverage(index, ["zebra"]).tolist() == [0.0] * 4  # an unknown word is all of the query


def _same(a: TermIndex, b: TermIndex) -> None:
    assert a.lengths.tolist() == b.lengths.tolist()
    assert a.postings.keys() == b.postings.keys()
    for term, (rows, counts) in a.postings.items():
        assert dict(zip(rows.tolist(), counts.tolist())) == dict(
            zip(b.postings[term][0].tolist(), b.postings[term][1].tolist())
        ), term


def test_extend_equals_a_fresh_build_appended_or_reordered() -> None:
    texts = ["walked the dog", "bakery opened", "dog at the bakery", "rainy walk"]
    roles: list[str | None] = ["Ana", None, "Ben", "Ana"]
    old = build(texts[:2], roles[:2])
    _same(extend(old, None, np.array([2, 3]), texts[2:], roles[2:]), build(texts, roles))
    # Two new rows dated between the old ones: old rows 0, 1 move to 0, 3.
    order = [texts[0], texts[2], texts[3], texts[1]]
    who = [roles[0], roles[2], roles[3], roles[1]]
    grown = extend(old, np.array([0, 3]), np.array([1, 2]), texts[2:], roles[2:])
    _same(grown, build(order, who))
    assert old.rows == 2 and old.postings["dog"][0].tolist() == [0]  # the old index is untouched


def _bm25(eng: Engine, user: str, query: str) -> dict[str | None, float]:
    """The raw BM25 score of each of the user's rows that matched (neighbours of a match are
    listed too, smoothed, but score 0 themselves)."""
    return {h.event.source_id: h.parts.bm25 for h in eng.search(user, query, k=50, mode="bm25") if h.parts.bm25 > 0}


def test_another_users_events_do_not_change_a_users_scores(engine: Engine) -> None:
    a = ["I adopted a grey kitten", "the kitten sleeps on my desk", "we hiked the ridge", "pasta for dinner"]
    engine.add([{"user_id": "a", "role": "user", "text": t, "source_id": f"a{i}"} for i, t in enumerate(a)])
    before = _bm25(engine, "a", "kitten desk")
    assert set(before) == {"a0", "a1"}
    b = [f"kitten {i} and another kitten on a desk, desk, desk" for i in range(300)]
    engine.add([{"user_id": "b", "role": "user", "text": t} for t in b])
    engine.add({"user_id": "b", "role": "kitten", "text": "desk desk"})
    assert _bm25(engine, "a", "kitten desk") == before
    assert _bm25(engine, "b", "kitten desk")  # user b's own index sees them


def test_a_view_extended_by_adds_indexes_like_one_built_from_scratch(engine: Engine) -> None:
    engine.add([{"user_id": "ana", "role": "user", "text": f"walked the dog past bakery {i}"} for i in range(20)])
    scope = Scope(engine.tenant, "ana")
    cache = engine.retriever.cache
    before = cache.get(scope)
    engine.add({"user_id": "ana", "role": "user", "text": "Bakery closed; the dog sulked"})
    engine.add({"user_id": "ana", "role": "Ana", "text": "An old bakery memory", "time": "2001-01-01T00:00:00Z"})
    after = cache.get(scope)
    assert after is not before and after.data.texts[0] == "An old bakery memory"  # rows moved
    fresh = UserIndexCache(engine.store, engine.embedder).get(scope)
    _same(after.terms, fresh.terms)
    assert scores(after.terms, ["bakeri", "sulk"]).tolist() == scores(fresh.terms, ["bakeri", "sulk"]).tolist()
