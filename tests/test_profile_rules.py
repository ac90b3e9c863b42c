"""Profiles from real statements: the rules extractor and evolution together, over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tailored import Engine
from tailored.testing import HashEmbedder

T0 = datetime(2024, 1, 1, tzinfo=UTC)

HISTORY = [
    (0, "I love sushi"),
    (1, "I live in Lisbon"),
    (2, "I'm allergic to peanuts"),
    (10, "I don't like sushi anymore"),
    (12, "I moved to Porto"),
    (20, "Actually sushi is great again"),
    (21, "I used to love running but now I prefer cycling"),
]


def stance(eng: Engine, day: float | None = None) -> dict[str, str]:
    as_of = None if day is None else T0 + timedelta(days=day)
    p = eng.profile("ana", as_of=as_of)
    out = {m.key: m.polarity or "" for m in p.preferences}
    out.update({m.key: m.value for m in p.facts if not m.multi})
    return out


def test_profile_follows_changes_reversals_and_retractions(tmp_path: Path) -> None:
    eng = Engine(tmp_path / "p.db", embedder=HashEmbedder(), extractor="rules")
    for day, text in HISTORY:
        eng.add({"user_id": "ana", "role": "user", "text": text, "time": T0 + timedelta(days=day)})
    eng.add({"user_id": "ana", "role": "assistant", "text": "I love helping you!", "time": T0})  # not the user
    assert stance(eng, 5) == {"sushi": "like", "location": "Lisbon", "peanut": "avoid"}
    assert stance(eng, 15) == {"location": "Porto", "peanut": "avoid"}  # sushi retracted
    assert stance(eng) == {"sushi": "like", "location": "Porto", "peanut": "avoid", "cycling": "like"}
    sushi = [m for m in eng.history("ana") if m.key == "sushi"]
    assert [m.status for m in sushi] == ["retracted", "active"]
    why = eng.why("ana", sushi[0].id)
    assert [e.text for e in why.evidence] == ["I love sushi", "I don't like sushi anymore"]
    ctx = eng.context("ana", "Where should we go for dinner?", budget=300)
    assert "Avoids peanuts (allergic)" in ctx.text and "sushi" in ctx.text.lower()
    eng.close()
