"""A small catalogue with a known answer, written as real files, and the store backends.

Three genres of twenty items each. Every user prefers one genre: they rate items of it
high, in catalogue order, with a low rating of another genre now and then. So the right
next items for a user are the next unseen items of their genre.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.testing import HashEmbedder
from tests.store.conftest import backend, postgres_server, store  # noqa: F401 (the conformance backends)

GENRES = ("Comedy", "Horror", "Western")
PER_GENRE = 20
USERS = 30


def item_id(genre: int, n: int) -> str:
    return str(100 + genre * PER_GENRE + n)


def write_files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    movies, tags, ratings = folder / "movies.csv", folder / "tags.csv", folder / "ratings.csv"
    with movies.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["movieId", "title", "genres"])
        for g, genre in enumerate(GENRES):
            for n in range(PER_GENRE):
                w.writerow([item_id(g, n), f"{genre} film {n} ({1990 + n})", genre])
    with tags.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["userId", "movieId", "tag", "timestamp"])
        for g, word in enumerate(("funny", "scary", "cowboys")):
            for n in range(0, PER_GENRE, 2):
                w.writerow([1, item_id(g, n), word, 1000])
    with ratings.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["userId", "movieId", "rating", "timestamp"])
        for u in range(USERS):
            g = u % len(GENRES)
            start = u // len(GENRES) % 4
            t = 1_600_000_000 + u * 10_000
            for step, n in enumerate(range(start, start + 8 + u % 5)):
                w.writerow([f"u{u}", item_id(g, n), 4.5 if step % 3 else 5.0, t + step * 60])
                if step % 4 == 3:
                    w.writerow([f"u{u}", item_id((g + 1) % 3, (u + step) % PER_GENRE), 1.5, t + step * 60 + 1])
    return {"movies": movies, "tags": tags, "ratings": ratings}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return write_files(tmp_path / "data")


@pytest.fixture
def engine(tmp_path: Path, files: dict[str, Path]) -> Iterator[Engine]:
    eng = Engine(str(tmp_path / "rec.db"), embedder=HashEmbedder())
    eng.catalog_add([files["movies"], files["tags"], files["ratings"]])
    yield eng
    eng.close()


def genre_of(item: str) -> int:
    return (int(item) - 100) // PER_GENRE
