"""Each recommender: fit, recommend the user's genre, save, reload the same ranking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tailored import Engine, InvalidInput
from tailored.recommend.base import top_k
from tailored.recommend.content import Content
from tailored.recommend.hybrid import Hybrid
from tailored.recommend.models import load, make
from tailored.recommend.ratings import BiasedMF
from tailored.recommend.service import catalogue, item_vectors, load_interactions
from tailored.types import INTERACTION_KINDS

from .conftest import genre_of

FAST = {"sasrec": {"epochs": 5, "dim": 16, "max_len": 20}, "bpr": {"iterations": 200}, "ease": {"l2": 10.0}}


def _data(engine: Engine):  # type: ignore[no-untyped-def]
    items = catalogue(engine.store, engine.tenant)
    return items, load_interactions(engine.store, engine.tenant, items)


@pytest.mark.parametrize("name", ["popularity", "ease", "itemknn", "markov", "als", "bpr", "sasrec", "mf", "content"])
def test_fit_recommend_save_reload(engine: Engine, tmp_path: Path, name: str) -> None:
    items, data = _data(engine)
    model = Content(item_vectors(engine.embedder, items)) if name == "content" else make(name, **FAST.get(name, {}))
    model.fit(data)
    recs = model.recommend("u0", k=5)
    assert len(recs) == 5
    seen = {r.item_id for r in engine.store.interactions("default", INTERACTION_KINDS, user_id="u0")}
    assert not seen & {i for i, _ in recs}  # nothing the user already saw
    if name in ("ease", "itemknn"):
        assert genre_of(recs[0][0]) == 0  # u0 likes genre 0
    path = model.save(tmp_path / f"{name}.npz")
    again = load(path)
    assert again.fingerprint == model.fingerprint
    reloaded = again.recommend("u0", k=5)
    assert [i for i, _ in reloaded] == [i for i, _ in recs]
    assert [s for _, s in reloaded] == pytest.approx([s for _, s in recs], rel=1e-4)


def test_filters_and_exclude_seen(engine: Engine) -> None:
    _, data = _data(engine)
    model = make("ease", l2=10.0).fit(data)
    only_horror = model.recommend("u0", k=3, filters=lambda idx: np.array([genre_of(data.items[i]) == 1 for i in idx]))
    assert all(genre_of(i) == 1 for i, _ in only_horror)
    with_seen = model.recommend("u0", k=60, exclude_seen=False)
    assert len(with_seen) == 60


def test_rating_model_predicts_the_users_scale(engine: Engine) -> None:
    _, data = _data(engine)
    mf = BiasedMF(epochs=200).fit(data)
    assert isinstance(mf, BiasedMF)
    liked, disliked = mf.predict_rating("u0", "105"), mf.predict_rating("u0", "125")
    assert liked > disliked
    assert 0.5 <= disliked <= 5.0


def test_hybrid_blends_and_reloads(engine: Engine, tmp_path: Path) -> None:
    _, data = _data(engine)
    hybrid = Hybrid([make("ease", l2=10.0), make("popularity")], [1.0, 0.25]).fit(data)
    recs = hybrid.recommend("u1", k=3)
    assert genre_of(recs[0][0]) == 1
    again = load(hybrid.save(tmp_path / "h.npz"))
    assert [i for i, _ in again.recommend("u1", k=3)] == [i for i, _ in recs]


def test_ties_are_broken_by_catalogue_order() -> None:
    assert top_k(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 3).tolist() == [1, 2, 4]
    assert top_k(np.array([0.0, 0.0]), 5, allowed=np.array([False, True])).tolist() == [1]


def test_a_tampered_model_file_is_refused(engine: Engine, tmp_path: Path) -> None:
    _, data = _data(engine)
    path = make("popularity").fit(data).save(tmp_path / "p.npz")
    with np.load(path) as z:
        arrays = dict(z)
    arrays["ratings"] = arrays["ratings"] + 1
    np.savez(path, **arrays)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="fingerprint"):
        load(path)
    (tmp_path / "junk.npz").write_bytes(b"not a model")
    with pytest.raises(InvalidInput):
        load(tmp_path / "junk.npz")
