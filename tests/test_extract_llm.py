"""The LLM extractor: prompt, batching, parsing and validation on scripted replies (fast),
and one short run of the real local model checking the stance of a negative preference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tailored.errors import SchemaError
from tailored.memory import load_extractor
from tailored.memory.llm import LLMExtractor
from tailored.testing import ScriptedChatModel
from tailored.types import Event, Memory

from .test_llm import MODEL_FILE, needs_model

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def turns(*texts: str, first_id: int = 10, role: str | None = "user") -> list[Event]:
    return [
        Event(
            id=first_id + i,
            tenant="t",
            user_id="ana",
            kind="message",
            role=role,
            text=t,
            time=T0 + timedelta(minutes=i),
            ingested_at=T0,
        )
        for i, t in enumerate(texts)
    ]


def reply(*items: dict[str, Any]) -> str:
    full = []
    for item in items:
        full.append(
            {
                "kind": "preference",
                "value": item.get("key", ""),
                "polarity": "none",
                "text": "",
                "evidence": [],
                "retract": False,
                **item,
            }
        )
    return json.dumps({"memories": full})


def known(key: str, polarity: str | None, kind: str = "preference", value: str | None = None) -> Memory:
    return Memory(
        id=1,
        tenant="t",
        user_id="ana",
        kind=kind,
        key=key,
        value=value or key,
        polarity=polarity,  # type: ignore[arg-type]
        strength=0.6,
        confidence=0.7,
        multi=False,
        text=f"{polarity} {key}",
        source="llm",
        status="active",
        pinned=False,
        valid_from=T0,
        valid_to=None,
        superseded_by=None,
        evidence=[1],
        created_at=T0,
        updated_at=T0,
    )


def test_items_become_proposals_with_normalised_keys_and_event_times() -> None:
    events = turns("Hi there", "I live in Lisbon", "I don't really like spicy foods")
    model = ScriptedChatModel(
        [
            reply(
                {"kind": "fact", "key": "City", "value": "Lisbon", "text": "Lives in Lisbon", "evidence": [11]},
                {
                    "key": "Spicy foods",
                    "polarity": "dislike",
                    "text": "Dislikes spicy food",
                    "evidence": [12],
                    "strength": 0.7,
                },
            )
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [(m.kind, m.key, m.value, m.polarity, m.evidence) for m in out] == [
        ("fact", "location", "Lisbon", None, [11]),
        ("preference", "spicy food", "spicy food", "dislike", [12]),
    ]
    assert out[0].valid_from == events[1].time and out[1].valid_from == events[2].time
    assert out[1].strength == 0.7 and out[0].confidence == 0.7


def test_unknown_evidence_ids_are_dropped_and_ungrounded_items_too() -> None:
    events = turns("I love jazz", "I hate olives")
    model = ScriptedChatModel(
        [
            reply(
                {"key": "jazz", "polarity": "like", "evidence": [10, 999, 10]},
                {"key": "olives", "polarity": "dislike", "evidence": [999]},  # regrounded on the turn naming olives
                {"key": "opera", "polarity": "like", "evidence": [12345]},  # no turn mentions it: dropped
            )
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [(m.key, m.evidence) for m in out] == [("jazz", [10]), ("olive", [11])]


def test_memories_whose_turns_never_name_them_are_dropped() -> None:
    events = turns("I'm an old man and I ride horses", "My wheelchair is fast", "I turned 70 in May")
    model = ScriptedChatModel(
        [
            reply(
                {"kind": "fact", "key": "age", "value": "70", "text": "Is 70", "evidence": [12]},
                {
                    "kind": "fact",
                    "key": "location",
                    "value": "Lisbon",
                    "text": "Lives in Lisbon",
                    "evidence": [10],
                },  # the prompt's example
                {"kind": "fact", "key": "name", "value": "unknown", "text": "Unknown name", "evidence": [10]},
                {"kind": "fact", "key": "age", "value": "old man", "text": "Is an old man", "evidence": [10]},
                {
                    "key": "horse riding",
                    "polarity": "like",
                    "text": "Rides horses",
                    "evidence": [11],
                },  # wrong turn: regrounded
            )
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [(m.key, m.value, m.evidence) for m in out] == [
        ("age", "70", [12]),
        ("age", "old man", [10]),
        ("horse riding", "horse riding", [10]),
    ]


def test_copied_chat_lines_and_sentences_about_others_are_dropped() -> None:
    events = turns(
        "Hi, I'm [User 1's name].",
        "I love turtles! His name was Leonardo.",
        "Me too! We can go play frisbee.",
        "I love running too! It's so relaxing.",
        "That's cool! I've never been to Ohio.",
    )
    model = ScriptedChatModel(
        [
            reply(
                {"kind": "fact", "key": "name", "value": "me", "text": "Hi, I'm [User 1's name", "evidence": [10]},
                {"key": "turtles", "polarity": "like", "text": "Likes turtles", "evidence": [11]},
                {"key": "red-eared slider", "polarity": "like", "text": "His name was Leonardo", "evidence": [11]},
                {"key": "frisbee", "polarity": "like", "text": "Me too! We can go play frisbee", "evidence": [12]},
                {
                    "key": "running",
                    "polarity": "like",
                    "text": "I love running too! It's so relaxing",
                    "evidence": [13],
                },
                {
                    "kind": "fact",
                    "key": "favorite place",
                    "value": "Ohio",
                    "text": "I've never been to Ohio",
                    "evidence": [14],
                },
                {"key": "ohio", "polarity": "like", "text": "That's cool! I've never been to Ohio", "evidence": [14]},
            )
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [m.text for m in out] == ["Likes turtles", "Likes running"]  # the first-person line, written as a note


def test_items_the_schema_allows_but_that_make_no_sense_are_skipped() -> None:
    events = turns("I love jazz")
    raw = json.dumps(
        {
            "memories": [
                {
                    "kind": "preference",
                    "key": "jazz",
                    "value": "jazz",
                    "polarity": "none",
                    "text": "",
                    "evidence": [10],
                    "retract": False,
                },
                {
                    "kind": "preference",
                    "key": " ",
                    "value": "x",
                    "polarity": "like",
                    "text": "",
                    "evidence": [10],
                    "retract": False,
                },
                {
                    "kind": "preference",
                    "key": "jazz",
                    "value": "jazz",
                    "polarity": "like",
                    "text": "",
                    "evidence": [10],
                    "retract": False,
                    "strength": 7,
                    "confidence": -1,
                },
            ]
        }
    )
    (mem,) = LLMExtractor(ScriptedChatModel([raw])).extract(events, [])
    assert (mem.key, mem.polarity, mem.strength, mem.confidence, mem.text) == ("jazz", "like", 1.0, 0.0, "Likes jazz")


def test_a_like_contradicting_a_negation_is_corrected() -> None:
    events = turns("I don't like sushi at all", "I don't eat pork")
    model = ScriptedChatModel(
        [
            reply(
                {"key": "sushi", "polarity": "like", "text": "Likes sushi", "evidence": [10]},
                {"key": "pork", "polarity": "like", "text": "Likes pork", "evidence": [11]},
            )
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [(m.key, m.polarity) for m in out] == [("sushi", "dislike"), ("pork", "avoid")]
    assert not any("Likes" in m.text for m in out)
    unchecked = LLMExtractor(
        ScriptedChatModel([reply({"key": "sushi", "polarity": "like", "evidence": [10]})]), check_stance=False
    ).extract(events[:1], [])
    assert unchecked[0].polarity == "like"


def test_retractions_pass_and_known_memories_are_not_repeated() -> None:
    events = turns("I don't like sushi anymore", "I still love jazz")
    model = ScriptedChatModel(
        [
            reply(
                {
                    "key": "sushi",
                    "polarity": "like",
                    "text": "No longer likes sushi",
                    "evidence": [10],
                    "retract": True,
                },
                {"key": "jazz", "polarity": "like", "text": "Loves jazz", "evidence": [11]},
            )
        ]
    )
    profile = [known("sushi", "like"), known("jazz", "like")]
    out = LLMExtractor(model).extract(events, profile)
    assert [(m.key, m.polarity, m.retract) for m in out] == [("sushi", "like", True)]


def test_batches_hold_numbered_user_turns_and_the_profile() -> None:
    events = turns(*[f"message {i}" for i in range(5)]) + turns("assistant text", first_id=50, role="assistant")
    model = ScriptedChatModel([reply(), reply(), reply()])
    ex = LLMExtractor(model, batch_turns=2)
    ex.extract(events, [known("tea", "like")])
    assert len(model.calls) == 3  # 5 user turns in batches of 2; the assistant turn is not read
    prompts = [call[-1].content for call in model.calls]
    assert "[10] message 0" in prompts[0] and "[11] message 1" in prompts[0] and "[12]" not in prompts[0]
    assert "[14] message 4" in prompts[2]
    assert all("tea" in p.split("New messages")[0] for p in prompts)
    assert all("assistant text" not in p for p in prompts)
    system = model.calls[0][0]
    assert system.role == "system" and "dislike" in system.content and "NEVER" in system.content
    assert '"memories"' in system.content  # the schema is in the prompt


def test_no_user_turns_means_no_call() -> None:
    model = ScriptedChatModel([])
    assert LLMExtractor(model).extract(turns("hello", role="assistant"), []) == []
    assert model.calls == []


def test_output_that_never_parses_is_a_schema_error() -> None:
    model = ScriptedChatModel(["not json", '{"memories": "nope"}'])
    with pytest.raises(SchemaError):
        LLMExtractor(model).extract(turns("I love jazz"), [])


def test_a_batch_whose_output_never_parses_is_asked_again_in_halves() -> None:
    events = turns("I love jazz", "I hate olives")
    model = ScriptedChatModel(
        [
            "not json",
            '{"memories": [{"kind": "pref',  # cut off mid-answer, twice
            reply({"key": "jazz", "polarity": "like", "evidence": [10]}),
            reply({"key": "olives", "polarity": "dislike", "evidence": [11]}),
        ]
    )
    out = LLMExtractor(model).extract(events, [])
    assert [(m.key, m.polarity, m.evidence) for m in out] == [("jazz", "like", [10]), ("olive", "dislike", [11])]
    assert len(model.calls) == 4 and "[11]" not in model.calls[2][-1].content


def test_registered_under_llm() -> None:
    ex = load_extractor("llm")
    assert isinstance(ex, LLMExtractor) and ex.name == "llm"


@needs_model
@pytest.mark.slow
def test_real_model_reads_the_stance_of_a_negative_preference() -> None:
    from tailored.llm.llamacpp import LlamaCppChatModel

    model = LlamaCppChatModel(MODEL_FILE, n_ctx=2048)
    try:
        ex = LLMExtractor(model, max_tokens=200, check_stance=False)  # the model's own reading, uncorrected
        events = turns("Hi! I live in Porto.", "I really don't like mushrooms, they are slimy.")
        out = ex.extract(events, [])
    finally:
        model.close()
    mushrooms = [m for m in out if "mushroom" in m.key]
    assert mushrooms, out
    assert all(m.polarity in ("dislike", "avoid") for m in mushrooms), out
    assert all(m.evidence == [11] for m in mushrooms)
