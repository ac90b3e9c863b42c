"""The user's say over their sensitive facts: categories switched off, and the audit log.

A user (or the app acting for them) may switch personalization off for any sensitive
category (``sensitive.CATEGORIES``), or for all of them at once (``ALL``). A memory or an
event that mentions a switched-off category is then left out of everything the engine
hands a model: the context, the safety block, the judge's persona, the recommendations'
re-ranking (and the preferences they are scored by). It stays stored, shown
in the profile and exportable: switching off is about use, not about deletion (``forget``
and ``erase`` are for that).

Every item of a sensitive category that does reach a model is recorded in the user's audit
log (``SensitiveUse``): when, for what (``context``, ``safety``, ``assess``, ``judge``,
``recommend``), which memory or event and its categories, and the request. The log names
items, it does not copy them, and the user can read and export it; an erase removes it
with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from ..errors import InvalidInput
from ..types import SensitiveUse, utcnow
from .sensitive import CATEGORIES, categories

ALL = "all"
"""Switches every sensitive category off at once."""

Purpose = Literal["context", "safety", "assess", "judge", "recommend"]
QUERY_CHARS = 200  # of the request kept in the log


def check_off(names: Iterable[str] | str) -> list[str]:
    """``names`` as a sorted set of valid category names (``all`` included), or ``InvalidInput``.
    One name alone (``"all"``) is taken as itself, not as its letters."""
    names = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(n, str) for n in names):
        raise InvalidInput("sensitive categories must be strings")
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(wanted - {ALL, *CATEGORIES})
    if unknown:
        raise InvalidInput(f"unknown sensitive categories {unknown}; known: {ALL}, {', '.join(CATEGORIES)}")
    return sorted(wanted)


def blocked(text: str, off: frozenset[str]) -> bool:
    """Whether ``text`` mentions a category the user switched off."""
    if not off:
        return False
    found = categories(text)
    return bool(found) and (ALL in off or any(c in off for c in found))


def uses(
    purpose: Purpose, query: str, items: Sequence[tuple[Literal["memory", "event"], int, str]]
) -> list[SensitiveUse]:
    """The log entries for ``items`` (source, id, text) that mention a sensitive category."""
    at = utcnow()
    out = []
    for source, item_id, text in items:
        found = categories(text)
        if found:
            out.append(
                SensitiveUse(
                    at=at,
                    purpose=purpose,
                    source=source,
                    item_id=item_id,
                    categories=list(found),
                    query=query[:QUERY_CHARS],
                )
            )
    return out
