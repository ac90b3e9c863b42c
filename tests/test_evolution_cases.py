"""The scripted histories of ``evolution_cases``: the rules extractor's proposals, replayed
through a minimal reference evolution, give the expected profile at every checkpoint; and
the engine's stored profile agrees at the same times."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tailored import Engine
from tailored.memory.rules import RulesExtractor
from tailored.types import Event, MemoryIn

from .evolution_cases import CASES, T0, Case, Entry


def entry(m: MemoryIn) -> Entry:
    return (m.kind, m.key, (m.polarity or "") if m.kind == "preference" else m.value)


def replay(proposals: list[MemoryIn], until: int) -> set[Entry]:
    """The reference semantics: a retraction closes what it names; a multi-valued fact adds
    a value; any other proposal replaces what was held on its (kind, key)."""
    held: dict[tuple[str, str], set[Entry]] = {}
    for p in sorted(proposals, key=lambda q: q.valid_from or T0):
        if p.valid_from is not None and p.valid_from > T0 + timedelta(minutes=until):
            break
        slot = held.setdefault((p.kind, p.key), set())
        if p.retract:
            slot.discard(entry(p)) if (p.multi or p.kind == "preference") else slot.clear()
            slot -= {e for e in slot if p.kind == "fact" and e[2].lower() == p.value.lower()}
        elif p.multi:
            slot.add(entry(p))
        else:
            slot.clear()
            slot.add(entry(p))
    return set().union(*held.values()) if held else set()


def events_of(case: Case) -> list[Event]:
    return [
        Event(
            id=i + 1,
            tenant="t",
            user_id="u",
            kind="message",
            role="user",
            text=text,
            time=case.at(minute),
            ingested_at=T0,
        )
        for i, (minute, text) in enumerate(case.steps)
    ]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_rules_proposals_give_the_expected_profiles(case: Case) -> None:
    proposals = RulesExtractor().extract(events_of(case), [])
    for minute, expected in case.checkpoints:
        assert replay(proposals, minute) == expected, f"at minute {minute}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_stored_profile_as_of_each_checkpoint(case: Case, engine: Engine) -> None:
    engine.add([{"user_id": "u", "text": text, "role": "user", "time": case.at(minute)} for minute, text in case.steps])
    engine.extract("u", "rules")
    for minute, expected in case.checkpoints:
        profile = engine.profile("u", as_of=case.at(minute))
        got = {
            (m.kind, m.key, (m.polarity or "") if m.kind == "preference" else m.value)
            for m in [*profile.facts, *profile.preferences]
        }
        assert got == expected, f"at minute {minute}"
