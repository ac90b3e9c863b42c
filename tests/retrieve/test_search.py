"""Search end to end on a real store: the query embedded ahead of the store read."""

from __future__ import annotations

from pathlib import Path

from tailored import Engine
from tailored.testing import HashEmbedder


def _ranked(eng: Engine, user: str, query: str) -> list[tuple[str | None, float]]:
    return [(h.event.source_id, round(h.score, 9)) for h in eng.search(user, query, k=5)]


def test_a_stale_guess_of_the_speakers_falls_back_to_the_current_view(tmp_path: Path) -> None:
    """The query is embedded before the view is checked, with the last view's speaker
    names; when an add brings a new speaker, the stale guess must not be used."""
    with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as eng:
        eng.add([{"user_id": "u", "role": "Ana", "text": f"Ana talks about gardens {i}"} for i in range(5)])
        eng.add({"user_id": "u", "role": "Ana", "text": "hello", "source_id": "hello"})
        eng.search("u", "warm up")  # the view now knows one speaker, Ana
        eng.add([{"user_id": "u", "role": "Zed", "text": "Zed painted a red boat", "source_id": "boat"}])
        eng.add([{"user_id": "u", "role": "Ana", "text": "Ana painted a fence", "source_id": "fence"}])
        got = _ranked(eng, "u", "What did Zed paint?")
    with Engine(tmp_path / "s.db", embedder=HashEmbedder()) as fresh:
        assert got == _ranked(fresh, "u", "What did Zed paint?")  # a first search: no guess at all
    assert got[0][0] == "boat"
