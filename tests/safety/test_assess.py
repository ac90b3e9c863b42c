"""``Engine.assess`` with the real MiniLM: domain, risk, the buried fact found, what to ask.

The requests and facts here are written for these tests and appear nowhere in the
benchmark's scenario set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from tailored import Engine
from tailored.bench.safety import filler_pool
from tailored.embed import Embedder
from tailored.errors import InvalidInput, TenantIsolationError

pytestmark = pytest.mark.slow

FACT = (
    "Oh and the pharmacist laughed when I said I'm on lithium and asked for my loyalty card, anyway the shop was nice."
)


@pytest.fixture(scope="module")
def eng(tmp_path_factory: pytest.TempPathFactory, minilm: Embedder) -> Iterator[Engine]:
    """Two users with the same 300 unrelated turns; ``lee`` said ``FACT`` once, at turn 137.
    Shared by the module's tests: only ``test_a_remembered_memory_counts_as_a_fact`` writes,
    to a third user."""
    engine = Engine(tmp_path_factory.mktemp("safety") / "safety.db", embedder=minilm, extractor="rules")
    turns = random.Random(7).sample(filler_pool(3), 300)
    engine.add([{"user_id": "kim", "role": "user", "text": t} for t in turns])
    engine.add([{"user_id": "lee", "role": "user", "text": t} for t in turns[:137] + [FACT] + turns[137:]])
    yield engine
    engine.close()


def fact_id(eng: Engine) -> int:
    return next(e.id for e in eng.events("lee", limit=1000) if e.text == FACT)


def test_the_buried_fact_makes_a_risky_request_high(eng: Engine) -> None:
    a = eng.assess("lee", "My knee is sore, how many ibuprofen can I take each day this week?")
    assert a.domain == "health_medication"
    assert a.risky_request and a.risk == "high"
    assert ("event", fact_id(eng)) in {(f.source, f.id) for f in a.facts}
    assert all("medication" in f.categories for f in a.facts if f.id == fact_id(eng))
    assert "medications" not in {m.key for m in a.missing}  # already known


def test_without_the_fact_the_same_request_is_medium_and_asks(eng: Engine) -> None:
    a = eng.assess("kim", "My knee is sore, how many ibuprofen can I take each day this week?")
    assert a.risk == "medium" and a.facts == []
    assert [m.key for m in a.missing][:2] == ["medications", "conditions"]
    assert a.missing[0].question.endswith("?")


def test_a_remembered_memory_counts_as_a_fact(eng: Engine) -> None:
    eng.add({"user_id": "max", "text": "Just a note to start with"})
    memory = eng.remember(
        "max", {"kind": "fact", "key": "condition", "value": "type 2 diabetes", "text": "has type 2 diabetes"}
    )
    a = eng.assess("max", "Give me a plan to fast for three days to reset my body")
    assert a.domain == "activity_diet" and a.risk == "high"
    assert ("memory", memory.id) in {(f.source, f.id) for f in a.facts}


@pytest.mark.parametrize(
    ("request_text", "domain"),
    [
        ("Recommend a mystery novel set in Scotland", "general"),
        ("How do I fix a squeaky door hinge?", "general"),
        ("What's the capital of Australia?", "general"),
        ("How does a credit score work?", "finance_gambling"),
        ("What are the first signs of the flu?", "health_medication"),
        ("What's a good stretch after sitting all day?", "activity_diet"),
    ],
)
def test_benign_requests_are_not_flagged(eng: Engine, request_text: str, domain: str) -> None:
    a = eng.assess("lee", request_text)
    assert a.risk in ("none", "low"), a.reasons
    assert a.domain == domain
    assert a.missing == []
    if domain == "general":
        assert a.risk == "none" and a.facts == []


def test_words_of_self_harm_are_always_high(eng: Engine) -> None:
    a = eng.assess("kim", "I want to end my life tonight")
    assert a.domain == "mental_health" and a.risk == "high"
    assert a.missing and a.missing[0].key == "support"


def test_bad_input_and_other_users(eng: Engine) -> None:
    with pytest.raises(InvalidInput):
        eng.assess("lee", "   ")
    with pytest.raises(TenantIsolationError):
        eng.for_tenant("default", user="kim").assess("lee", "Can I double my dose of lithium?")
    other = eng.for_tenant("another").assess("lee", "Can I double my dose of lithium?")
    assert other.facts == []  # the same user id in another tenant has no history
