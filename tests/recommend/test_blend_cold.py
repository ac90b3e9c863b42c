"""The sequential part (Markov transitions), how the hybrid's weights are searched, and
cold start from stated genres and tags: small cases with a known answer."""

from __future__ import annotations

import numpy as np

from tailored.recommend.cold import Labels, cold_scores
from tailored.recommend.data import Interactions
from tailored.recommend.hybrid import tune_weights
from tailored.recommend.markov import Markov, transitions
from tailored.types import CatalogItem


def _rows(seqs: dict[str, list[str]], items: list[str], ratings: float = 5.0) -> Interactions:
    users = sorted(seqs)
    ui, ii, tt = [], [], []
    t = 0
    for u in users:
        for it in seqs[u]:
            ui.append(users.index(u))
            ii.append(items.index(it))
            tt.append(t)
            t += 1
    return Interactions(
        users=users,
        items=items,
        user_idx=np.array(ui, dtype=np.int32),
        item_idx=np.array(ii, dtype=np.int32),
        times=np.array(tt, dtype=np.int64),
        ratings=np.full(len(ui), ratings, dtype=np.float32),
    )


def test_recency_matrix_keeps_only_the_latest_items() -> None:
    data = _rows({"u": ["a", "b", "c", "d"]}, ["a", "b", "c", "d"])
    m = data.recency_matrix(1.0, last=2).toarray()[0]
    assert m.tolist() == [0.0, 0.0, 0.5, 1.0]
    assert data.recency_matrix(None, last=3).toarray()[0].tolist() == [0.0, 1.0, 1.0, 1.0]


def test_markov_ranks_what_follows_the_latest_item() -> None:
    items = ["a", "b", "c", "d", "e"]
    data = _rows({"u1": ["a", "b", "c"], "u2": ["a", "b", "d"], "u3": ["e", "a"], "u4": ["d", "c"]}, items)
    moves = transitions(data, window=1).toarray()
    assert moves[0, 1] == 1.0  # after a, always b
    assert moves[1, 2] == moves[1, 3] == 0.5  # after b, c or d
    model = Markov(window=1, last=1).fit(data)
    assert model.recommend("u3", k=1)[0][0] == "b"  # u3 ended on a: b comes next
    # the window reaches further back, nearer steps weighing more
    far = transitions(data, window=2).toarray()
    assert far[0, 1] > far[0, 2] > 0


def test_weight_search_starts_from_the_best_part() -> None:
    rng = np.random.default_rng(0)
    target = rng.normal(size=(20, 30))
    noise = rng.normal(size=(20, 30))

    def metric(s: np.ndarray) -> float:
        return float(np.mean([np.corrcoef(s[r], target[r])[0, 1] for r in range(len(s))]))

    weights = tune_weights([noise, target + 0.1 * noise, noise[::-1]], metric)
    assert weights[1] > 0 and weights[0] == 0 and weights[2] == 0


def test_cold_start_follows_the_audience_of_the_named_genre() -> None:
    items = ["w1", "w2", "w3", "c1", "c2", "c3"]
    catalog = {
        i: CatalogItem(id=i, title=i, attributes={"genres": ["Western" if i[0] == "w" else "Comedy"], "tags": []})
        for i in items
    }
    catalog["c3"] = CatalogItem(id="c3", title="c3", attributes={"genres": ["Comedy"], "tags": ["dark humor"]})
    # western fans also watched c1; comedy fans made c2 the most popular item overall
    seqs = {
        "a": ["w1", "w2", "c1"],
        "b": ["w1", "w3", "c1"],
        "c": ["c2", "c3"],
        "d": ["c2", "c1"],
        "e": ["c2", "c3"],
        "f": ["c2"],
    }
    data = _rows(seqs, items)
    labels = Labels(data, catalog)
    q, unmatched = labels.match(["Western movies", "something light", "DARK HUMOR please"])
    assert {labels.names[j] for j in np.flatnonzero(q)} == {"western", "dark humor"}
    assert unmatched == ["something light"]
    empty = np.zeros((0, 4), np.float32)
    for_western = cold_scores(labels, None, ["likes Western"], empty, empty, popularity_weight=0.0)
    top = [items[i] for i in np.argsort(-for_western, kind="stable")[:3]]
    assert set(top[:2]) == {"w1", "c1"} and "c2" not in top  # what western fans watched
    popular = cold_scores(labels, None, [], empty, empty)
    assert items[int(np.argmax(popular))] == "c2"  # no stated preference: popularity


def test_cold_start_prior_is_what_was_popular_in_the_window_before_the_request() -> None:
    items = ["old", "new"]
    catalog = {i: CatalogItem(id=i, title=i, attributes={"genres": ["Drama"], "tags": []}) for i in items}
    day = 86_400 * 1_000_000
    # "old" was watched by five users three years ago, "new" by two users last month
    users = [f"u{n}" for n in range(7)]
    data = Interactions(
        users=users,
        items=items,
        user_idx=np.arange(7, dtype=np.int32),
        item_idx=np.array([0, 0, 0, 0, 0, 1, 1], dtype=np.int32),
        times=np.array([0, 1, 2, 3, 4, 1095 * day, 1096 * day], dtype=np.int64),
        ratings=np.full(7, 5.0, dtype=np.float32),
    )
    labels = Labels(data, catalog)
    empty = np.zeros((0, 4), np.float32)
    assert labels.recent(None).tolist() == labels.popularity.tolist()
    assert labels.recent(365.0).tolist() == [0.0, 1.0]  # the year before the newest interaction
    now = cold_scores(labels, None, [], empty, empty, recent_days=365.0)
    assert items[int(np.argmax(now))] == "new"
    all_time = cold_scores(labels, None, [], empty, empty, recent_days=None)
    assert items[int(np.argmax(all_time))] == "old"
    # a request dated before anything new was watched sees the old favourite; an empty window falls back
    then = cold_scores(labels, None, [], empty, empty, recent_days=365.0, as_of=10)
    assert items[int(np.argmax(then))] == "old"
    assert labels.recent(30.0, as_of=500 * day).tolist() == labels.popularity.tolist()
