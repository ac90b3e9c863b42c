"""A profile's sensitive memories, labelled when read (``Engine.sensitive``).

Labels are never stored: the rules in ``sensitive.py`` are applied to each memory's text
whenever the profile is read, so a user (or an app) sees which of their memories are
health, medication, pregnancy, age, addiction, mental health, disability, money trouble,
abuse or legal status, and can correct or forget them like any other memory.
"""

from __future__ import annotations

from pydantic import BaseModel

from ..types import Memory, MemoryKind, Profile
from .sensitive import Category, categories


class SensitiveMemory(BaseModel):
    """One current memory of the user's with the sensitive categories its text reveals."""

    memory_id: int
    kind: MemoryKind
    key: str
    text: str
    categories: list[Category]


def label(memory: Memory) -> SensitiveMemory | None:
    """``memory`` with its categories, or None when it reveals none."""
    found = categories(memory.text or f"{memory.key}: {memory.value}")
    if not found:
        return None
    return SensitiveMemory(memory_id=memory.id, kind=memory.kind, key=memory.key, text=memory.text, categories=found)


def sensitive_memories(profile: Profile) -> list[SensitiveMemory]:
    """The profile's sensitive memories, facts first, in the profile's order."""
    return [s for m in profile.facts + profile.preferences if (s := label(m)) is not None]
