"""Switching sensitive categories off, and the audit log of their uses, through the engine
on a real SQLite file with the real MiniLM and a scripted chat model.

The facts here are written for these tests and appear nowhere in the benchmark's scenarios.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.bench.safety import filler_pool
from tailored.embed import Embedder
from tailored.engine import _JudgeProfiles
from tailored.errors import InvalidInput
from tailored.testing import ScriptedChatModel

pytestmark = pytest.mark.slow

MEDS = "Quick one before I forget: I'm on warfarin since the clot last year, so the nurse checks my blood monthly."
PREGNANT = "We painted the nursery yellow because I'm pregnant with our first, due in March."
REQUEST = "My back hurts, how much ibuprofen can I take this week?"


@pytest.fixture
def eng(tmp_path: Path, minilm: Embedder) -> Iterator[Engine]:
    engine = Engine(tmp_path / "consent.db", embedder=minilm, extractor="rules")
    turns = random.Random(11).sample(filler_pool(2), 60)
    engine.add([{"user_id": "rui", "role": "user", "text": t} for t in turns[:20] + [MEDS, PREGNANT] + turns[20:]])
    engine.add([{"user_id": "sol", "role": "user", "text": t} for t in turns])
    yield engine
    engine.close()


def event_id(eng: Engine, text: str) -> int:
    return next(e.id for e in eng.events("rui", limit=1000) if e.text == text)


def test_a_sensitive_event_in_a_context_is_logged_with_its_categories(eng: Engine) -> None:
    ctx = eng.context("rui", "warfarin and blood checks")
    assert MEDS in ctx.text
    log = eng.sensitive_uses("rui")
    meds = [u for u in log if u.source == "event" and u.item_id == event_id(eng, MEDS)]
    assert len(meds) == 1
    assert meds[0].purpose == "context" and "medication" in meds[0].categories
    assert meds[0].query == "warfarin and blood checks"
    assert {u.item_id for u in log} <= {i.event_id for i in ctx.items} | set(ctx.memories)
    assert eng.sensitive_uses("sol") == []


def test_a_switched_off_category_never_reaches_a_context_and_the_rest_does(eng: Engine) -> None:
    assert eng.set_sensitive_off("rui", ["medication", "health_condition"]) == ["health_condition", "medication"]
    assert eng.sensitive_off("rui") == ["health_condition", "medication"]
    ctx = eng.context("rui", "warfarin blood clot nursery pregnant", k=60)
    assert "warfarin" not in ctx.text
    assert PREGNANT in ctx.text
    assert {c for u in eng.sensitive_uses("rui") for c in u.categories} == {"pregnancy"}
    eng.set_sensitive_off("rui", ["all"])
    ctx = eng.context("rui", "warfarin blood clot nursery pregnant", k=60)
    assert "warfarin" not in ctx.text and "pregnant" not in ctx.text
    eng.set_sensitive_off("rui", [])
    assert MEDS in eng.context("rui", "warfarin and blood checks").text
    # Stored and shown all along: switching off is about use, not deletion.
    assert {e.text for e in eng.events("rui", limit=1000)} >= {MEDS, PREGNANT}


def test_a_remembered_sensitive_memory_is_filtered_and_logged_as_a_memory(eng: Engine) -> None:
    memory = eng.remember("rui", {"kind": "fact", "key": "medication", "value": "takes lithium"})
    ctx = eng.context("rui", "what medication do I take", records=False)
    assert memory.id in ctx.memories
    assert any(u.source == "memory" and u.item_id == memory.id for u in eng.sensitive_uses("rui"))
    eng.set_sensitive_off("rui", ["medication"])
    assert memory.id not in eng.context("rui", "what medication do I take", records=False).memories
    assert memory.id in {m.memory_id for m in eng.sensitive("rui")}  # still shown to the user


def test_assess_leaves_switched_off_facts_out_and_does_not_ask_about_them(eng: Engine) -> None:
    before = eng.assess("rui", REQUEST)
    assert event_id(eng, MEDS) in {f.id for f in before.facts} and before.risk == "high"
    assert any(u.purpose == "assess" for u in eng.sensitive_uses("rui"))
    eng.set_sensitive_off("rui", ["medication", "health_condition"])
    after = eng.assess("rui", REQUEST)
    assert event_id(eng, MEDS) not in {f.id for f in after.facts}
    assert not {"medication", "health_condition"} & {m.category for m in after.missing}


def test_the_adapt_block_is_logged_as_safety_and_respects_the_switch(eng: Engine) -> None:
    model = ScriptedChatModel(["Check with your doctor first."])
    eng.chat("rui", [{"role": "user", "content": REQUEST}], model=model, safety="adapt")
    assert "warfarin" in model.calls[-1][0].content
    assert any(u.purpose == "safety" and u.item_id == event_id(eng, MEDS) for u in eng.sensitive_uses("rui"))
    eng.set_sensitive_off("rui", ["all"])
    eng.chat("rui", [{"role": "user", "content": REQUEST}], model=model, safety="adapt")
    assert "warfarin" not in model.calls[-1][0].content


def test_the_judge_sees_no_switched_off_memory(eng: Engine) -> None:
    eng.remember("rui", {"kind": "fact", "key": "medication", "value": "takes lithium"})
    eng.remember("rui", {"kind": "preference", "key": "tea", "value": "green tea", "polarity": "like"})
    profiles = _JudgeProfiles(eng)
    assert any("lithium" in m.text for m in profiles.profile("rui").facts)
    assert any(u.purpose == "judge" for u in eng.sensitive_uses("rui"))
    eng.set_sensitive_off("rui", ["medication"])
    seen = profiles.profile("rui")
    assert not any("lithium" in m.text for m in seen.facts) and seen.preferences


def test_unknown_categories_are_refused_and_change_nothing(eng: Engine) -> None:
    eng.set_sensitive_off("rui", ["pregnancy"])
    with pytest.raises(InvalidInput, match="unknown sensitive categories"):
        eng.set_sensitive_off("rui", ["pregnancy", "astrology"])
    assert eng.sensitive_off("rui") == ["pregnancy"]
    with pytest.raises(InvalidInput):
        eng.sensitive_uses("rui", limit=0)
    assert eng.set_sensitive_off("rui", "all") == ["all"]  # one name, not its letters


def test_export_import_and_erase_carry_the_switch_and_the_log(eng: Engine) -> None:
    eng.set_sensitive_off("rui", ["pregnancy"])
    eng.context("rui", "warfarin and blood checks")
    exported = eng.export("rui")
    assert exported.sensitive_off == ["pregnancy"] and exported.sensitive_uses
    other = eng.for_tenant("t2")
    other.import_user(exported)
    other.import_user(exported)  # a second import adds nothing
    again = other.export("rui")
    assert again.sensitive_off == ["pregnancy"]
    assert [(u.purpose, u.categories, u.query) for u in again.sensitive_uses] == [
        (u.purpose, u.categories, u.query) for u in exported.sensitive_uses
    ]
    texts = {e.id: e.text for e in again.events}
    old = {e.id: e.text for e in exported.events}
    assert [texts[u.item_id] for u in again.sensitive_uses if u.source == "event"] == [
        old[u.item_id] for u in exported.sensitive_uses if u.source == "event"
    ]
    eng.erase("rui")
    assert eng.store.sensitive_uses(eng._scope("rui")) == [] and eng.store.sensitive_off(eng._scope("rui")) == []
