"""Scripted histories where preferences and facts change, reverse and are retracted.

Format
------
``CASES`` is a list of ``Case``. A case is one user's history:

- ``steps``: ``(minute, text)`` pairs, the user's messages in time order; ``minute`` is the
  offset from ``T0`` (2024-03-01 12:00 UTC) at which the message was said;
- ``checkpoints``: ``(minute, expected)`` pairs; ``expected`` is the user's profile valid at
  ``T0 + minute``, as a set of ``(kind, key, stance)`` where ``stance`` is the polarity
  for a preference (``like``/``dislike``/``avoid``) and the value for a fact. A checkpoint
  lies between steps (e.g. minute 15 after a step at minute 10), so "valid at" is never
  ambiguous.

The expected profiles state the intended meaning of the histories, independent of any
extractor: the rules extractor's proposals are checked against them through a minimal
reference evolution, and the stored profile through ``Engine.profile(as_of=...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

Entry = tuple[str, str, str]  # (kind, key, polarity or value)


@dataclass(frozen=True)
class Case:
    name: str
    steps: list[tuple[int, str]]
    checkpoints: list[tuple[int, set[Entry]]] = field(default_factory=list)

    def at(self, minute: int) -> datetime:
        return T0 + timedelta(minutes=minute)


def like(key: str) -> Entry:
    return ("preference", key, "like")


def dislike(key: str) -> Entry:
    return ("preference", key, "dislike")


def avoid(key: str) -> Entry:
    return ("preference", key, "avoid")


def fact(key: str, value: str) -> Entry:
    return ("fact", key, value)


CASES: list[Case] = [
    Case(
        "like, retracted, liked again",
        [(0, "I love sushi"), (10, "I don't like sushi anymore"), (20, "Actually sushi is great again")],
        [(5, {like("sushi")}), (15, set()), (25, {like("sushi")})],
    ),
    Case(
        "like reversed into a dislike",
        [(0, "I really enjoy jazz"), (10, "Honestly I can't stand jazz")],
        [(5, {like("jazz")}), (15, {dislike("jazz")})],
    ),
    Case(
        "dislike softened into a like",
        [(0, "I hate spicy foods"), (10, "These days I like spicy food")],
        [(5, {dislike("spicy food")}), (15, {like("spicy food")})],
    ),
    Case(
        "moving city",
        [(0, "I live in Lisbon"), (10, "I moved to Porto")],
        [(5, {fact("location", "Lisbon")}), (15, {fact("location", "Porto")})],
    ),
    Case(
        "job change",
        [(0, "I work as a teacher"), (10, "I'm a nurse now")],
        [(5, {fact("occupation", "teacher")}), (15, {fact("occupation", "nurse")})],
    ),
    Case(
        "allergy, then outgrown",
        [(0, "I'm allergic to peanuts"), (10, "I'm not allergic to peanuts anymore")],
        [(5, {avoid("peanut"), fact("allergy", "peanut")}), (15, set())],
    ),
    Case(
        "vegetarian, then eating meat again",
        [(0, "I love steak"), (10, "I've become vegetarian"), (20, "I'm not vegetarian anymore")],
        [
            (5, {like("steak")}),
            (15, {like("steak"), avoid("meat"), fact("diet", "vegetarian")}),
            (25, {like("steak")}),
        ],
    ),
    Case(
        "old like replaced by a new one in one sentence",
        [(0, "I love rock music"), (10, "I used to like rock music but now I prefer jazz")],
        [(5, {like("rock music")}), (15, {like("jazz")})],
    ),
    Case(
        "pets accumulate, each its own memory",
        [(0, "I have a dog named Rex"), (10, "I also have a cat named Mia")],
        [(5, {fact("pet", "dog named Rex")}), (15, {fact("pet", "dog named Rex"), fact("pet", "cat named Mia")})],
    ),
    Case(
        "a favourite replaced",
        [(0, "My favorite color is blue"), (10, "My favorite color is green")],
        [
            (5, {like("blue"), fact("favorite color", "blue")}),
            (15, {like("blue"), like("green"), fact("favorite color", "green")}),
        ],
    ),
    Case(
        "repeated statements merge",
        [(0, "I like tea"), (10, "I like tea a lot"), (20, "I no longer like tea")],
        [(5, {like("tea")}), (15, {like("tea")}), (25, set())],
    ),
    Case(
        "avoidance beside an unrelated like",
        [(0, "I don't eat pork"), (10, "I love chicken")],
        [(5, {avoid("pork")}), (15, {avoid("pork"), like("chicken")})],
    ),
]
