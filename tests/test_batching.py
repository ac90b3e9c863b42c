"""Concurrent embedding calls are coalesced and each caller gets its own rows."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from tailored.embed.batching import BatchingEmbedder
from tailored.errors import ModelError
from tailored.testing import HashEmbedder


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()
        self.fail_on: str | None = None

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.gate.wait(5)
        if self.fail_on is not None and self.fail_on in texts:
            raise ModelError("boom")
        self.calls.append(len(texts))
        return super().embed_batch(texts)


def test_concurrent_calls_share_model_calls_and_get_their_own_rows() -> None:
    inner = CountingEmbedder()
    emb = BatchingEmbedder(inner)
    texts = [f"query number {i} about topic {i % 3}" for i in range(12)]
    results: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        results[i] = emb.embed([texts[i]])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    inner.gate.set()
    for t in threads:
        t.join(10)
    expected = HashEmbedder().embed(texts)
    for i in range(12):
        assert np.allclose(results[i][0], expected[i])
    assert sum(inner.calls) == 12 and len(inner.calls) < 12  # some calls were shared


def test_a_failure_reaches_the_caller_and_the_worker_survives() -> None:
    inner = CountingEmbedder()
    inner.gate.set()
    inner.fail_on = "bad"
    emb = BatchingEmbedder(inner)
    with pytest.raises(ModelError):
        emb.embed(["bad"])
    assert emb.embed(["good"]).shape == (1, inner.dimensions)
