"""Sensitive categories of memory and event texts, labelled at read time by phrase rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tailored import Engine
from tailored.bench.safety import filler_pool
from tailored.safety import CATEGORIES, categories, is_sensitive
from tailored.testing import HashEmbedder


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The physio said my torn ACL needs another month, so no football yet", "health_condition"),
        ("I've been on sertraline since January and it helps", "medication"),
        ("We told my parents I'm expecting twins in the summer", "pregnancy"),
        ("I'm 15 and my mum says I can get a phone next year", "age_minor"),
        ("Three years clean this month, my sponsor took me for dinner", "addiction_recovery"),
        ("I have panic attacks on crowded trains so I cycle instead", "mental_health"),
        ("Most cafes near me are hard to get into with my wheelchair", "disability"),
        ("I'm behind on rent again and the landlord is not happy", "financial_distress"),
        ("My ex threatened me last week so I'm staying with my sister", "violence_abuse"),
        ("I can't leave the state while I'm on parole", "legal_status"),
    ],
)
def test_each_category_is_recognised(text: str, expected: str) -> None:
    assert expected in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "We watched a film about a boxer's comeback",
        "I made a non-alcoholic punch for the party and it was gone in an hour",
        "My swimming stroke is getting better",
        "The report is 15 pages long and due on Friday",
        "I'm 35 and I just started learning the piano",
        "Please purge the old backups from the server",
    ],
)
def test_ordinary_texts_are_not_sensitive(text: str) -> None:
    assert categories(text) == []
    assert not is_sensitive(text)


def test_labels_come_in_a_fixed_order_and_several_at_once() -> None:
    got = categories("Since the bipolar diagnosis I take lithium and I'm pregnant with our second")
    assert got == [c for c in CATEGORIES if c in {"medication", "pregnancy", "mental_health"}]


def test_the_benchmark_filler_is_never_sensitive() -> None:
    """The unrelated turns of ``tailored bench safety`` must not carry a risk-bearing fact."""
    assert [t for t in filler_pool(0) if categories(t)] == []


def test_the_engine_labels_the_profile_when_read(tmp_path: Path) -> None:
    with Engine(tmp_path / "s.db", embedder=HashEmbedder(), extractor=None) as eng:
        eng.add({"user_id": "ana", "text": "hello"})
        meds = eng.remember("ana", {"kind": "fact", "key": "medication", "value": "insulin", "text": "takes insulin"})
        eng.remember("ana", {"kind": "preference", "key": "tea", "value": "green tea", "polarity": "like"})
        found = eng.sensitive("ana")
        assert [(s.memory_id, s.categories) for s in found] == [(meds.id, ["medication"])]
        eng.forget("ana", meds.id)
        assert eng.sensitive("ana") == []
        assert eng.sensitive("nobody") == []


def test_long_texts_are_labelled_like_short_ones() -> None:
    from tailored.safety import categories

    long = "We talked about the garden for ages. " * 60 + "Also I'm on warfarin now."
    assert len(long) > 1000 and categories(long) == ["medication"]
    assert categories("Also I'm on warfarin now.") == ["medication"]
