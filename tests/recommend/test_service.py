"""Imports, fitting and recommending through the engine: errors with line numbers and
nothing half-stored, explanations that cite real items, cold start, avoid, ask, re-rank."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailored import Engine, InvalidInput
from tailored.recommend.hybrid import Hybrid
from tailored.recommend.models import load
from tailored.recommend.rerank import RerankInput, parse
from tailored.store import Store
from tailored.testing import HashEmbedder, ScriptedChatModel
from tailored.types import INTERACTION_KINDS

from .conftest import genre_of, write_files


def _lines(path: Path, *extra: str) -> Path:
    path.write_text(path.read_text() + "".join(line + "\n" for line in extra))
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("u1,999,4.0,1600000000", "unknown item '999'"),
        ("u1,100,9.0,1600000000", "rating 9 is outside 0.5-5"),
        ("u1,100,4.0,yesterday", "time 'yesterday'"),
        ("u1,100,4.0", "3 fields where the header has 4"),
        ("u1,100,,1600000000", "needs a rating"),
    ],
)
def test_a_bad_interaction_line_is_named_and_nothing_is_stored(
    tmp_path: Path, files: dict[str, Path], line: str, message: str
) -> None:
    eng = Engine(str(tmp_path / "x.db"), embedder=HashEmbedder())
    ratings = _lines(files["ratings"], line)
    n = len(ratings.read_text().splitlines())
    with pytest.raises(InvalidInput, match=f"ratings.csv:{n}: .*{message}"):
        eng.catalog_add([files["movies"], ratings])
    assert eng.store.catalog_count("default") == 0  # the items of the same call are not kept either
    assert eng.store.interactions("default", INTERACTION_KINDS) == []


def test_a_duplicate_names_both_lines(tmp_path: Path, files: dict[str, Path]) -> None:
    eng = Engine(str(tmp_path / "x.db"), embedder=HashEmbedder())
    first = files["ratings"].read_text().splitlines()[1]
    with pytest.raises(InvalidInput, match=r"duplicate interaction \(first at .*ratings.csv:2\)"):
        eng.catalog_add([files["movies"], _lines(files["ratings"], first)])


def test_import_is_idempotent_and_tags_reach_items(engine: Engine, files: dict[str, Path]) -> None:
    again = engine.catalog_add([files["ratings"]])
    assert again.interactions == 0 and again.duplicates > 300
    item = engine.store.catalog_items("default", ids=["100"])[0]
    assert item.attributes == {"genres": ["Comedy"], "tags": ["funny"]}
    assert "funny" in item.text


def test_fit_then_recommend_with_real_explanations(engine: Engine) -> None:
    fitted = engine.recommend_fit()
    assert Path(fitted.path).is_file() and fitted.users == 30
    saved = load(fitted.path)
    assert isinstance(saved, Hybrid) and saved.weights == fitted.weights
    # parts weighted 0 on validation are left out, except content (stated preferences)
    assert all(w > 0 or c.name == "content" for c, w in zip(saved.components, saved.weights))
    recs = engine.recommend("u0", k=5)
    assert [r.rank for r in recs] == [1, 2, 3, 4, 5]
    assert genre_of(recs[0].item.id) == 0
    seen = {i.item_id for i in engine.store.interactions("default", INTERACTION_KINDS, user_id="u0")}
    cited = [c.removeprefix("item:") for r in recs for c in r.because]
    assert cited and set(cited) <= seen  # "because you liked X": X is an item u0 really rated
    assert recs[0].explanation.startswith("because you liked ")
    assert not seen & {r.item.id for r in recs}


def test_cold_start_follows_the_profile_and_avoid_demotes(engine: Engine) -> None:
    engine.recommend_fit()
    engine.remember("newbie", {"kind": "preference", "key": "genre", "value": "Western", "polarity": "like"})
    recs = engine.recommend("newbie", k=5)
    assert recs[0].source == "cold-start profile"
    assert sum(genre_of(r.item.id) == 2 for r in recs) >= 3
    plain = [r.item.id for r in engine.recommend("u1", k=10)]
    engine.remember("u1", {"kind": "preference", "key": "horror", "value": "Horror", "polarity": "avoid"})
    avoided = [r.item.id for r in engine.recommend("u1", k=10)]
    assert sum(genre_of(i) == 1 for i in avoided) < sum(genre_of(i) == 1 for i in plain)


def test_a_user_without_anything_gets_popular_items_and_ask_steers(engine: Engine) -> None:
    engine.recommend_fit()
    recs = engine.recommend("stranger", k=3)
    assert recs and recs[0].source == "popularity"
    asked = engine.recommend("stranger", k=5, ask="Western cowboys")
    assert asked[0].source.endswith("+ request")


def test_no_model_yet_ranks_by_popularity_and_an_empty_tenant_gets_nothing(engine: Engine) -> None:
    assert engine.recommend("u0", k=3)[0].source == "popularity"
    assert engine.for_tenant("empty").recommend("u0") == []


def test_rerank_output_is_checked_against_real_items() -> None:
    inp = RerankInput(
        candidates=[("1", "A"), ("2", "B"), ("3", "C")],
        profile=[("7", "likes westerns")],
        history=[("9", "Old film")],
    )
    reply = (
        'Sure! [{"id": "3", "why": "a western", "cites": ["P1", "P9"]}, {"id": "42", "why": "invented"},'
        ' {"id": "3", "why": "again"}, {"id": "1", "why": "like H1", "cites": ["H1"]}] trailing prose'
    )
    ranked = parse(reply, inp)
    assert [r.item_id for r in ranked] == ["3", "1", "2"]
    assert ranked[0].cites == ["memory:7"] and ranked[1].cites == ["item:9"] and ranked[2].why == ""
    assert [r.item_id for r in parse("no JSON at all", inp)] == ["1", "2", "3"]


def test_rerank_through_the_engine(engine: Engine) -> None:
    engine.recommend_fit(model="ease")
    top = engine.recommend("u0", k=20)
    last = top[-1].item.id
    model = ScriptedChatModel([f'[{{"id": "{last}", "why": "you rated films like it", "cites": ["H1"]}}]'])
    recs = engine.recommend("u0", k=5, rerank=True, model=model)
    assert recs[0].item.id == last and recs[0].explanation == "you rated films like it"
    assert recs[0].because and recs[0].because[0].startswith("item:")
    assert recs[0].source.endswith("llm rerank")


def test_bad_k_and_missing_model_file(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        engine.recommend("u0", k=0)
    with pytest.raises(InvalidInput):
        engine.recommend_fit(model="nope")
    assert engine.recommend("u0", k=2, path=tmp_path / "missing.npz")  # falls back to popularity


def test_every_backend_imports_fits_and_recommends(store: Store, tmp_path: Path) -> None:
    files = write_files(tmp_path / "d")
    eng = Engine(store, embedder=HashEmbedder())
    eng.catalog_add([files["movies"], files["tags"], files["ratings"]])
    eng.recommend_fit(model="itemknn", path=tmp_path / "m.npz")
    recs = eng.recommend("u2", k=3, path=tmp_path / "m.npz")
    assert genre_of(recs[0].item.id) == 2
    with pytest.raises(InvalidInput, match="no interactions"):  # another tenant sees none of them
        eng.for_tenant("other").recommend_fit(path=tmp_path / "o.npz")


def test_rerank_leaves_out_switched_off_preferences_and_logs_the_rest(engine: Engine) -> None:
    engine.recommend_fit(model="ease")
    sober = engine.remember(
        "u0", {"kind": "preference", "key": "drinks", "value": "alcohol-free films", "polarity": "like",
               "text": "Likes films without drinking since getting sober"},
    )  # fmt: skip
    comedy = engine.remember("u0", {"kind": "preference", "key": "genre", "value": "comedy", "polarity": "like"})
    model = ScriptedChatModel(default="[]")
    engine.recommend("u0", k=5, rerank=True, model=model)
    prompt = model.calls[-1][-1].content
    assert "sober" in prompt and "comedy" in prompt
    (use,) = [u for u in engine.sensitive_uses("u0") if u.purpose == "recommend"]
    assert use.item_id == sober.id and use.categories == ["addiction_recovery"]
    engine.set_sensitive_off("u0", ["addiction_recovery"])
    engine.recommend("u0", k=5, rerank=True, model=model)
    prompt = model.calls[-1][-1].content
    assert "sober" not in prompt and "comedy" in prompt
    assert len([u for u in engine.sensitive_uses("u0") if u.purpose == "recommend"]) == 1
    assert comedy.id in {m.id for m in engine.profile("u0").preferences}  # stored and shown all along
    assert sober.id in {m.memory_id for m in engine.sensitive("u0")}
