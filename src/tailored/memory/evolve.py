"""Evolution: how proposed memories change a user's stored profile.

The rules, applied to each proposal in time order:

- **same aspect, same value** (same kind, key, value and polarity): merge into the stored
  memory: evidence is added and confidence rises (noisy-or), nothing new is stored;
- **multi-valued aspect** (pets, hobbies): a new value is a new memory beside the others;
- **contradiction** (same single-valued aspect, another value or polarity): the more
  recent statement wins, then the one with more evidence, then the more confident. The
  loser gets ``valid_to`` and ``superseded_by``; nothing is deleted, and the conflict is
  logged on both;
- **retraction** ("I no longer like X"): the matching memory is closed (``valid_to``,
  status ``retracted``) and nothing replaces it;
- **user changes always win**: a memory the user made or pinned is never superseded or
  retracted by extraction (the extracted one is stored as superseded, with a conflict
  logged), and a memory the user deleted is not extracted again from statements made
  before the deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..store import ChangeAction, ClosedStatus, NewMemory, Scope, Store
from ..types import Memory, MemoryIn, MemorySource, MemoryStatus, utcnow


def _norm(text: str | None) -> str:
    return " ".join((text or "").lower().split())


def same_claim(m: Memory, p: MemoryIn) -> bool:
    return _norm(m.value) == _norm(p.value) and m.polarity == p.polarity


def describe(p: MemoryIn | Memory) -> str:
    if p.text:
        return p.text
    if p.kind == "preference":
        return f"{p.polarity or 'has a view on'} {p.key}: {p.value}"
    return f"{p.key}: {p.value}"


def _wins(new: MemoryIn, new_from: datetime, old: Memory) -> bool:
    """Recency first, then evidence count, then confidence; a tie keeps the old one."""
    if new_from != old.valid_from:
        return new_from > old.valid_from
    if len(new.evidence) != len(old.evidence):
        return len(new.evidence) > len(old.evidence)
    return new.confidence > old.confidence


def _protected(m: Memory) -> bool:
    return m.pinned or m.source == "user"


class Evolver:
    """Applies proposals for one user inside the caller's transaction."""

    def __init__(self, store: Store, scope: Scope, now: datetime | None = None) -> None:
        self.store = store
        self.scope = scope
        self.now = now or utcnow()

    def apply(self, proposals: Sequence[MemoryIn], source: MemorySource) -> list[int]:
        """Apply proposals in time order; returns the ids of memories created or changed."""
        touched: list[int] = []
        with self.store.transaction():
            for p in sorted(proposals, key=lambda q: q.valid_from or self.now):
                touched.extend(self._one(p, source))
        return list(dict.fromkeys(touched))

    def _insert(
        self,
        p: MemoryIn,
        source: MemorySource,
        valid_from: datetime,
        status: MemoryStatus = "active",
        valid_to: datetime | None = None,
        superseded_by: int | None = None,
    ) -> int:
        item = NewMemory(
            kind=p.kind,
            key=p.key,
            value=p.value,
            polarity=p.polarity,
            strength=p.strength,
            confidence=p.confidence,
            multi=p.multi,
            text=describe(p),
            source=source,
            valid_from=valid_from,
            created_at=self.now,
            status=status,
            valid_to=valid_to,
            superseded_by=superseded_by,
            evidence=p.evidence,
        )
        mid = self.store.add_memory(self.scope, item)
        self._log(mid, "created", f"from {source}")
        return mid

    def _log(self, memory_id: int, action: ChangeAction, detail: str, other_id: int | None = None) -> None:
        self.store.log_change(self.scope, memory_id, action, at=self.now, detail=detail, other_id=other_id)

    def _close(self, m: Memory, at: datetime, status: ClosedStatus, by: int | None, detail: str) -> None:
        self.store.close_memory(self.scope, m.id, status=status, valid_to=at, at=self.now, by=by)
        self._log(m.id, "superseded" if status == "superseded" else "retracted", detail, by)

    def _one(self, p: MemoryIn, source: MemorySource) -> list[int]:
        at = p.valid_from or self.now
        if source == "user":
            at = max(at, self.now)  # a user's change is made now and outranks every statement
        active = self.store.memories(self.scope, kind=p.kind, key=p.key, statuses=["active"])
        if p.retract:
            return self._retract(p, active, at, source)
        if source != "user" and self._deleted_by_user(p, at):
            return []
        same = [m for m in active if same_claim(m, p)]
        if same:
            return [self._merge(same[0], p, at)]
        if p.multi:
            return [self._insert(p, source, at)]
        rivals = [m for m in active if not m.multi]
        if source != "user":
            guard = next((m for m in rivals if _protected(m)), None)
            if guard is not None:
                mid = self._insert(p, source, at, "superseded", valid_to=at, superseded_by=guard.id)
                self._log(mid, "conflict", "a memory the user made or pinned wins", guard.id)
                self._log(guard.id, "conflict", f"kept over: {describe(p)}", mid)
                return [mid]
        losers = [m for m in rivals if source == "user" or _wins(p, at, m)]
        keepers = [m for m in rivals if m not in losers]
        if keepers:  # an older statement arrived late: it is history from the start
            winner = keepers[0]
            mid = self._insert(
                p, source, at, "superseded", valid_to=max(at, winner.valid_from), superseded_by=winner.id
            )
            self._log(mid, "conflict", f"lost to: {winner.text}", winner.id)
            self._log(winner.id, "conflict", f"kept over: {describe(p)}", mid)
            return [mid]
        mid = self._insert(p, source, at)
        for m in losers:
            self._close(m, at, "superseded", mid, f"replaced by: {describe(p)}")
            self._log(mid, "conflict", f"replaced: {m.text}", m.id)
        return [mid, *(m.id for m in losers)]

    def _merge(self, m: Memory, p: MemoryIn, at: datetime) -> int:
        self.store.reinforce(
            self.scope,
            m.id,
            confidence=1 - (1 - m.confidence) * (1 - p.confidence),
            strength=max(m.strength, p.strength),
            evidence=p.evidence,
            at=self.now,
            # an earlier statement of the same thing: it held since then
            valid_from=at if at < m.valid_from else None,
        )
        self._log(m.id, "merged", f"confirmed by events {p.evidence}")
        return m.id

    def _retract(self, p: MemoryIn, active: list[Memory], at: datetime, source: MemorySource) -> list[int]:
        closed = []
        for m in active:
            if m.multi and _norm(m.value) != _norm(p.value):
                continue
            if p.polarity is not None and m.polarity is not None and m.polarity != p.polarity:
                continue
            if m.valid_from > at or (source != "user" and _protected(m)):
                continue
            self._close(m, at, "retracted", None, f"retracted: {describe(p)}")
            self.store.link_evidence(self.scope, m.id, p.evidence)
            closed.append(m.id)
        return closed

    def _deleted_by_user(self, p: MemoryIn, at: datetime) -> bool:
        deleted = self.store.memories(self.scope, kind=p.kind, key=p.key, statuses=["deleted"])
        return any(same_claim(m, p) and m.valid_to is not None and at <= m.valid_to for m in deleted)
