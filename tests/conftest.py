"""Shared fixtures. Every test gets a clean environment and its own data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.embed import Embedder
from tailored.testing import HashEmbedder


@pytest.fixture(autouse=True)
def clean_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TAILORED_") and name != "TAILORED_DATA":
            monkeypatch.delenv(name)
    monkeypatch.setenv("TAILORED_HOME", str(tmp_path / "home"))
    # The model cache is per user (~/.cache/tailored/models); a test gets its own, so that
    # no test writes there. Tests of the real model locate it before this runs (test_llm).
    monkeypatch.setenv("TAILORED_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def engine(db_path: Path) -> Iterator[Engine]:
    eng = Engine(db_path, embedder=HashEmbedder())
    yield eng
    eng.close()


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    """The real default embedder, loaded once for the whole run."""
    from tailored.embed.local import MiniLMEmbedder

    return MiniLMEmbedder()


@pytest.fixture
def real_engine(db_path: Path, minilm: Embedder) -> Iterator[Engine]:
    eng = Engine(db_path, embedder=minilm)
    yield eng
    eng.close()


def data_root() -> Path:
    return Path(os.environ.get("TAILORED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
