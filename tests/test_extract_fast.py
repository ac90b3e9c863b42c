"""The fast path (learned disclosure classifier over MiniLM) and ``auto``, the default extractor.

The sentences here are written for these tests, not taken from any dataset.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tailored import Engine
from tailored.embed import Embedder
from tailored.errors import ModelIntegrityError
from tailored.memory import available_extractors, load_extractor
from tailored.memory.auto import AutoExtractor
from tailored.memory.disclose import WEIGHTS, WEIGHTS_SHA256, DisclosureClassifier, sha256_of, spans
from tailored.memory.fast import FastExtractor
from tailored.memory.phrase import phrase, rewrite, stance
from tailored.testing import HashEmbedder
from tailored.types import Event

T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)

DISCLOSURES = [
    "I restore vintage motorcycles in my garage on weekends.",
    "I have three cats and a parrot named Biscuit.",
    "My sister and I run a small bakery downtown.",
    "I grew up on a sheep farm in Wales.",
    "I work night shifts as a paramedic.",
]
CHIT_CHAT = [
    "Hi there, how are you doing today?",
    "That sounds like a lot of fun!",
    "What do you do for a living?",
    "Haha, yeah, totally.",
    "Well, it was nice talking to you!",
]


def event(text: str, id: int = 1, minutes: int = 0, role: str = "user") -> Event:
    return Event(
        id=id,
        tenant="t",
        user_id="ana",
        kind="message",
        role=role,
        text=text,
        time=T0 + timedelta(minutes=minutes),
        ingested_at=T0,
    )


@pytest.fixture
def fast(minilm: Embedder) -> FastExtractor:
    return FastExtractor(embedder=minilm)


# -- the pinned weights ------------------------------------------------------------------


def test_shipped_weights_match_their_pinned_sha256() -> None:
    assert sha256_of(WEIGHTS) == WEIGHTS_SHA256
    clf = DisclosureClassifier()
    assert clf.w1.shape[0] == 384 and clf.w2.shape == clf.b1.shape
    assert 0.0 < clf.threshold < 1.0 and 0.0 < clf.reinforce < 1.0


def test_a_corrupted_weights_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "disclose-minilm.npz"
    shutil.copy(WEIGHTS, bad)
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256 is .* expected"):
        DisclosureClassifier(bad)
    with pytest.raises(ModelIntegrityError, match="missing"):
        DisclosureClassifier(tmp_path / "absent.npz")


def test_a_file_with_the_right_hash_but_no_weights_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a weights file")
    with pytest.raises(ModelIntegrityError, match="not a disclosure classifier"):
        DisclosureClassifier(junk, sha256_of(junk))


# -- the classifier ----------------------------------------------------------------------


def test_disclosures_are_flagged_and_chit_chat_is_not(minilm: Embedder) -> None:
    clf = DisclosureClassifier()
    yes = clf.scores(minilm.embed(DISCLOSURES))
    no = clf.scores(minilm.embed(CHIT_CHAT))
    assert (yes >= clf.threshold).all(), dict(zip(DISCLOSURES, yes.round(2)))
    assert (no < clf.threshold).all(), dict(zip(CHIT_CHAT, no.round(2)))


def test_spans_are_sentences_and_their_clauses() -> None:
    got = [(s.text, s.sentence, s.whole) for s in spans("Nice! I bake bread, and I keep bees.")]
    assert got == [
        ("Nice!", 0, True),
        ("I bake bread, and I keep bees.", 1, True),
        ("I bake bread", 1, False),
        ("I keep bees.", 1, False),
    ]


# -- phrasing: text, stance, key -----------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "text", "kind", "polarity", "key"),
    [
        ("Oh, I own a Jeep.", "Owns a Jeep", "fact", None, "owns jeep"),
        ("I really love salsa dancing too!", "Loves salsa dancing", "preference", "like", "salsa dancing"),
        ("I can't stand reality shows", "Cannot stand reality shows", "preference", "dislike", "reality show"),
        ("I don't eat meat.", "Does not eat meat", "preference", "avoid", "meat"),
        ("Yeah, my favourite band is Queen.", "Favourite band is Queen", "preference", "like", "queen"),
        ("I am a retired teacher", "Is a retired teacher", "fact", None, "is retired teacher"),
    ],
)
def test_a_clause_becomes_a_short_memory_with_stance_and_key(
    clause: str, text: str, kind: str, polarity: str | None, key: str
) -> None:
    p = phrase(clause)
    assert p is not None
    assert (p.text, p.kind, p.polarity, p.key) == (text, kind, polarity, key)


def test_rewrite_keeps_the_users_words_in_the_third_person() -> None:
    assert rewrite("Well, I watch birds with my dad and I study geology.") == (
        "Watches birds with their dad and studies geology"
    )
    assert stance("Never liked opera") == "dislike"
    assert phrase("Yes!") is None


# -- the extractor -----------------------------------------------------------------------


def test_fast_path_cites_its_events_and_skips_chit_chat(fast: FastExtractor) -> None:
    events = [
        event("Hi! How is your week going?", id=10, minutes=0),
        event("Ha, nice. I keep honeybees on my roof.", id=11, minutes=1),
        event("That sounds great.", id=12, minutes=2),
        event("I can't stand reality shows.", id=13, minutes=3),
        event("I keep honeybees on my roof.", id=14, minutes=4, role="assistant"),
    ]
    found = fast.extract(events, [])
    by_text = {m.text: m for m in found}
    assert "Keeps honeybees on their roof" in by_text, found
    bees = by_text["Keeps honeybees on their roof"]
    assert bees.evidence == [11] and bees.valid_from == events[1].time and bees.kind == "fact"
    dislike = next(m for m in found if m.polarity == "dislike")
    assert dislike.key == "reality show" and dislike.evidence == [13]
    assert all(set(m.evidence) <= {11, 13} for m in found)  # not the chit-chat, not the assistant


def test_paraphrases_reinforce_one_memory(fast: FastExtractor) -> None:
    events = [
        event("I keep honeybees on my roof.", id=1, minutes=0),
        event("Honestly, I keep honey bees up on my roof.", id=2, minutes=5),
    ]
    found = [m for m in fast.extract(events, []) if "bee" in m.text.lower()]
    assert len(found) == 1 and found[0].evidence == [1, 2]
    assert found[0].valid_from == events[1].time


def test_a_statement_before_a_tagged_question_is_kept(fast: FastExtractor) -> None:
    assert [s.text for s in spans("I restore old sailboats do you?")] == ["I restore old sailboats."]
    assert [s.text for s in spans("Do you?")] == ["Do you?"]
    found = fast.extract([event("I'm married with three kids do you have any?", id=4)], [])
    assert any("three kids" in m.text and m.evidence == [4] for m in found), found


def test_a_lossy_rules_reading_keeps_the_clause_beside_it(fast: FastExtractor) -> None:
    """The rules read "I'm a stay at home mom" as "Is a stay": the clause's own phrase
    keeps what it says, and the rules' typed memory stays for its key."""
    found = fast.extract([event("I'm a stay at home mom.", id=5)], [])
    texts = [m.text for m in found]
    assert "Is a stay at home mom" in texts, texts
    assert all(m.evidence == [5] for m in found)


def test_a_fuller_statement_is_not_merged_into_a_shorter_one(fast: FastExtractor) -> None:
    events = [
        event("I like to paint.", id=1, minutes=0),
        event("I like to paint portraits of my neighbours' dogs.", id=2, minutes=5),
    ]
    found = fast.extract(events, [])
    assert any("portraits" in m.text and m.evidence == [2] for m in found), [(m.text, m.evidence) for m in found]


def test_a_paraphrase_of_a_stored_memory_reinforces_it(tmp_path: Path, minilm: Embedder) -> None:
    with Engine(tmp_path / "p.db", embedder=HashEmbedder(), extractor=FastExtractor(embedder=minilm)) as eng:
        eng.add({"user_id": "ana", "text": "I keep honeybees on my roof.", "time": T0.isoformat()})
        first = [m for m in eng.profile("ana").facts if "bee" in m.text.lower()]
        eng.add(
            {
                "user_id": "ana",
                "text": "Yes, I keep honey bees up on my roof!",
                "time": (T0 + timedelta(days=1)).isoformat(),
            }
        )
        again = [m for m in eng.profile("ana").facts if "bee" in m.text.lower()]
    assert len(first) == 1 and len(again) == 1
    assert again[0].id == first[0].id and again[0].confidence > first[0].confidence
    assert len(eng_evidence := eng_why(tmp_path / "p.db", again[0].id)) == 2, eng_evidence


def eng_why(path: Path, memory_id: int) -> list[int]:
    with Engine(path, embedder=HashEmbedder(), extractor=None) as eng:
        return [e.id for e in eng.why("ana", memory_id).evidence]


def test_rules_override_on_diets_allergies_and_retractions(fast: FastExtractor) -> None:
    found = fast.extract(
        [
            event("I'm allergic to shellfish, sadly.", id=1),
            event("I went vegetarian last spring.", id=2, minutes=1),
            event("I don't like jazz anymore.", id=3, minutes=2),
        ],
        [],
    )
    tuples = {(m.kind, m.key, m.polarity, m.retract) for m in found}
    assert ("preference", "shellfish", "avoid", False) in tuples
    assert ("fact", "allergy", None, False) in tuples
    assert any(m.key == "diet" and m.value == "vegetarian" for m in found)
    assert ("preference", "jazz", "like", True) in tuples  # a retraction, not a new like
    assert not any(m.polarity == "like" and not m.retract for m in found)


def test_rules_stance_wins_over_the_word_list(fast: FastExtractor) -> None:
    found = fast.extract([event("I do not really enjoy crowded beaches.", id=4)], [])
    beach = [m for m in found if "beach" in m.key]
    assert beach and all(m.polarity == "dislike" for m in beach), found


# -- auto, the default -------------------------------------------------------------------


@pytest.fixture
def no_opt_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TAILORED_EXTRACT_LLM", raising=False)
    yield


def test_auto_is_registered_and_the_engine_default(tmp_path: Path, no_opt_in: None) -> None:
    assert {"auto", "fast", "rules", "llm"} <= set(available_extractors())
    assert isinstance(load_extractor("auto"), AutoExtractor)
    with Engine(tmp_path / "d.db", embedder=HashEmbedder()) as eng:
        eng.add({"user_id": "ana", "text": "I repair old pinball machines for fun.", "time": T0.isoformat()})
        facts = eng.profile("ana").facts
        assert [m.source for m in facts] == ["auto"]
        assert "pinball" in facts[0].text.lower()
        why = eng.why("ana", facts[0].id)
        assert [e.text for e in why.evidence] == ["I repair old pinball machines for fun."]


def test_auto_asks_the_model_only_when_opted_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAILORED_EXTRACT_LLM", raising=False)
    assert AutoExtractor().use_llm is False
    monkeypatch.setenv("TAILORED_EXTRACT_LLM", "1")
    assert AutoExtractor().use_llm is True


def test_auto_sends_only_flagged_turns_to_the_model(minilm: Embedder) -> None:
    from tailored.testing import ScriptedChatModel

    reply = '{"notes": [[2, "Works night shifts as a paramedic"]]}'
    model = ScriptedChatModel([reply])
    auto = AutoExtractor(llm=True, model=model, fast=FastExtractor(embedder=minilm))
    found = auto.extract([event("Hi, how are you?", id=1), event("I work night shifts as a paramedic.", id=2)], [])
    assert any("paramedic" in m.text and m.evidence == [2] for m in found)
    assert len(model.calls) == 1
    prompt = model.calls[0][-1].content
    assert "paramedic" in prompt and "how are you" not in prompt


def test_auto_keeps_typed_facts_so_a_move_supersedes(tmp_path: Path, no_opt_in: None) -> None:
    with Engine(tmp_path / "m.db", embedder=HashEmbedder()) as eng:
        eng.add({"user_id": "ana", "text": "I live in Lisbon", "time": T0.isoformat()})
        eng.add({"user_id": "ana", "text": "I moved to Porto", "time": (T0 + timedelta(days=3)).isoformat()})
        eng.add({"user_id": "ana", "text": "I'm allergic to peanuts", "time": (T0 + timedelta(days=4)).isoformat()})
        eng.add({"user_id": "ana", "text": "I love sushi", "time": (T0 + timedelta(days=5)).isoformat()})
        profile = eng.profile("ana")
    assert [m.value for m in profile.facts if m.key == "location"] == ["Porto"]
    assert any(m.key == "peanut" and m.polarity == "avoid" for m in profile.preferences)
    assert any(m.key == "sushi" and m.polarity == "like" for m in profile.preferences)  # a short like: auto keeps it
