"""The LLM extractor: prompt, batching, parsing and validation on scripted replies (fast),
and one short run of the real local model checking the stance of a negative preference."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tailored.errors import SchemaError
from tailored.llm.base import GenerateOptions, Message
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


def reply(*notes: tuple[int, str]) -> str:
    return json.dumps({"notes": [list(n) for n in notes]})


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


def reader(model: ScriptedChatModel, **kw: Any) -> LLMExtractor:
    """Every user turn to the model (the flagging is tested on its own below), the model's
    notes alone (the rules beside them are tested on their own below)."""
    return LLMExtractor(model, flagged_only=False, **{"with_rules": False, **kw})


def test_the_rules_precise_readings_stand_beside_the_notes_and_override_them() -> None:
    events = turns("I live in Lisbon", "I'm allergic to peanuts", "I love jazz")
    model = ScriptedChatModel([reply((10, "Lives in Lisbon"), (11, "Likes peanuts"), (12, "Loves jazz"))])
    out = LLMExtractor(model, flagged_only=False).extract(events, [])
    got = [(m.key, m.polarity, m.evidence) for m in out]
    assert ("location", None, [10]) in got and ("peanut", "avoid", [11]) in got  # the rules' readings
    assert ("jazz", "like", [12]) in got  # a note the rules hold nothing precise against
    assert ("peanut", "like", [11]) not in got and ("lives in lisbon", None, [10]) not in got  # overridden


def test_notes_become_proposals_with_normalised_keys_and_event_times() -> None:
    events = turns("Hi there", "I live in Lisbon", "I don't really like spicy foods")
    model = ScriptedChatModel([reply((11, "Lives in Lisbon"), (12, "Dislikes spicy foods"))])
    out = reader(model).extract(events, [])
    assert [(m.kind, m.key, m.polarity, m.text, m.evidence) for m in out] == [
        ("fact", "lives in lisbon", None, "Lives in Lisbon", [11]),
        ("preference", "spicy food", "dislike", "Dislikes spicy foods", [12]),
    ]
    assert out[0].valid_from == events[1].time and out[1].valid_from == events[2].time


def test_unknown_evidence_ids_are_regrounded_or_dropped() -> None:
    events = turns("I love jazz", "I hate olives")
    model = ScriptedChatModel(
        [
            reply(
                (10, "Loves jazz"),
                (999, "Hates olives"),  # regrounded on the turn naming olives
                (12345, "Loves opera"),  # no turn mentions it: dropped
            )
        ]
    )
    out = reader(model).extract(events, [])
    assert [(m.key, m.polarity, m.evidence) for m in out] == [("jazz", "like", [10]), ("olive", "dislike", [11])]


def test_notes_whose_turns_never_name_them_are_dropped() -> None:
    events = turns("I'm an old man and I ride horses", "My wheelchair is fast", "I turned 70 in May")
    model = ScriptedChatModel(
        [reply((12, "Turned 70 in May"), (10, "Lives in Lisbon"), (11, "Rides horses"))]  # Lisbon: the example
    )
    out = reader(model).extract(events, [])
    assert [(m.text, m.evidence) for m in out] == [("Turned 70 in May", [12]), ("Rides horses", [10])]


def test_copied_chat_lines_and_sentences_about_others_are_dropped() -> None:
    events = turns(
        "Hi, I'm [User 1's name].",
        "I love turtles! His name was Leonardo.",
        "Me too! We can go play frisbee.",
        "I love running too!",
    )
    model = ScriptedChatModel(
        [
            reply(
                (10, "Hi, I'm [User 1's name"),
                (11, "Likes turtles"),
                (11, "His name was Leonardo"),
                (12, "Me too! We can go play frisbee"),
                (13, "I love running"),
            )
        ]
    )
    out = reader(model).extract(events, [])
    assert [m.text for m in out] == ["Likes turtles", "Loves running"]  # the first-person line, as a note


def test_malformed_notes_are_skipped() -> None:
    events = turns("I love jazz")
    raw = json.dumps({"notes": [[10, ""], [10, "x"], [10, "Loves jazz"]]})
    (mem,) = reader(ScriptedChatModel([raw])).extract(events, [])
    assert (mem.key, mem.polarity, mem.text) == ("jazz", "like", "Loves jazz")


def test_a_like_contradicting_a_negation_is_corrected() -> None:
    events = turns("I don't like sushi at all", "I don't eat pork")
    model = ScriptedChatModel([reply((10, "Likes sushi"), (11, "Likes pork"))])
    out = reader(model).extract(events, [])
    assert [(m.key, m.polarity) for m in out] == [("sushi", "dislike"), ("pork", "avoid")]
    assert not any("Likes" in m.text for m in out)
    unchecked = reader(ScriptedChatModel([reply((10, "Likes sushi"))]), check_stance=False).extract(events[:1], [])
    assert unchecked[0].polarity == "like"


def test_retractions_pass_and_known_memories_are_not_repeated() -> None:
    events = turns("I don't like sushi anymore", "I still love jazz")
    model = ScriptedChatModel([reply((10, "No longer likes sushi"), (11, "Likes jazz"))])
    profile = [known("sushi", "like"), known("jazz", "like")]
    out = reader(model).extract(events, profile)
    assert [(m.key, m.polarity, m.retract) for m in out] == [("sushi", "like", True)]


def test_batches_hold_numbered_user_turns_and_the_profile() -> None:
    events = turns(*[f"message {i}" for i in range(5)]) + turns("assistant text", first_id=50, role="assistant")
    model = ScriptedChatModel([reply(), reply(), reply()])
    reader(model, batch_turns=2).extract(events, [known("tea", "like")])
    assert len(model.calls) == 3  # 5 user turns in batches of 2; the assistant turn is not read
    prompts = [call[-1].content for call in model.calls]
    assert "[10] message 0" in prompts[0] and "[11] message 1" in prompts[0] and "[12]" not in prompts[0]
    assert "[14] message 4" in prompts[2]
    assert all("tea" in p.split("New messages")[0] for p in prompts)
    assert all("assistant text" not in p for p in prompts)
    system = model.calls[0][0]
    assert system.role == "system" and "Dislikes" in system.content and "never" in system.content
    assert '"notes"' in system.content  # the schema is in the prompt


def test_the_prompt_prefix_is_the_same_for_every_call() -> None:
    """Everything before the known memories is byte-identical, so llama.cpp can keep it."""
    model = ScriptedChatModel([reply(), reply()])
    reader(model).extract(turns("I keep bees"), [])
    reader(model).extract(turns("I sail", first_id=40), [known("tea", "like")])
    first, second = model.calls
    assert first[:-1] == second[:-1]
    assert first[-1].content.split("Known notes:")[0] == second[-1].content.split("Known notes:")[0]


def test_one_call_per_session_of_flagged_turns(minilm: Any) -> None:
    from tailored.memory.fast import FastExtractor

    events = [
        e.model_copy(update={"session_id": sid})
        for e, sid in zip(
            turns(
                "Hi there, how are you today?",
                "I restore vintage motorcycles in my garage on weekends.",
                "I grew up on a sheep farm in Wales.",
                "What do you do for a living?",
                "I work night shifts as a paramedic.",
            ),
            ["a", "a", "a", "b", "b"],
            strict=True,
        )
    ]
    model = ScriptedChatModel([reply(), reply()])
    LLMExtractor(model, fast=FastExtractor(embedder=minilm)).extract(events, [])
    assert len(model.calls) == 2  # session a, then session b
    first, second = (call[-1].content.split("New messages")[1] for call in model.calls)
    assert "[11]" in first and "[12]" in first and "[10]" not in first  # chit-chat never reaches the model
    assert "[14]" in second and "[13]" not in second


def test_no_user_turns_means_no_call() -> None:
    model = ScriptedChatModel([])
    assert reader(model).extract(turns("hello", role="assistant"), []) == []
    assert model.calls == []


def test_output_that_never_parses_is_a_schema_error() -> None:
    model = ScriptedChatModel(["not json", '{"notes": "nope"}'])
    with pytest.raises(SchemaError):
        reader(model).extract(turns("I love jazz"), [])


def test_a_batch_whose_output_never_parses_is_asked_again_in_halves() -> None:
    events = turns("I love jazz", "I hate olives")
    model = ScriptedChatModel(
        [
            "not json",
            '{"notes": [[10, "Lov',  # cut off mid-answer, twice
            reply((10, "Loves jazz")),
            reply((11, "Hates olives")),
        ]
    )
    out = reader(model).extract(events, [])
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
        ex = LLMExtractor(model, max_tokens=200, check_stance=False, flagged_only=False)  # the model's own reading
        events = turns("Hi! I live in Porto.", "I really don't like mushrooms, they are slimy.")
        out = ex.extract(events, [])
        assert model.usage["calls"] == 1 and model.usage["completion_tokens"] > 0
        # the lazily checked grammar decodes what llama-cpp-python's own grammar path decodes
        schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}}, "required": ["city"]}
        ask = [Message(role="user", content="Where does the user live? I live in Porto.")]
        ours = model._complete(ask, GenerateOptions(max_tokens=16, schema=schema)).text
        theirs = model._llm.create_chat_completion(
            messages=[m.model_dump() for m in ask],
            max_tokens=16,
            temperature=0.0,
            response_format={"type": "json_object", "schema": schema},
        )["choices"][0]["message"]["content"]
        assert json.loads(ours) == json.loads(theirs)
    finally:
        model.close()
    mushrooms = [m for m in out if "mushroom" in m.key]
    assert mushrooms, out
    assert all(m.polarity in ("dislike", "avoid") for m in mushrooms), out
    assert all(m.evidence == [11] for m in mushrooms)
