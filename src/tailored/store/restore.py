"""Writing one user's memories, change log and summaries back into a store, with ids
remapped, and the sensitive-category settings and audit log: shared by ``Engine.import_user``
(an export) and ``tailored db copy`` (a store)."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence

from ..types import Memory, MemoryChange, SensitiveUse, Summary, utcnow
from .base import NewMemory, Scope, Store


def restore_memories(
    store: Store,
    scope: Scope,
    memories: Sequence[Memory],
    changes: Sequence[MemoryChange],
    summaries: Sequence[Summary],
    id_map: Mapping[int, int],
    present: Mapping[int, int] | None = None,
) -> dict[int, int]:
    """Store ``memories`` (evidence remapped through ``id_map``, old event id -> new), their
    replacements and change log, and ``summaries`` (each covering up to the new id of the
    last event it covered). ``present`` maps old memory ids already stored to their ids
    here: those are not stored again, nor is their log. Returns old memory id -> new. The
    caller holds the transaction."""
    mem_map: dict[int, int] = dict(present or {})
    added: set[int] = set()
    for m in memories:
        if m.id in mem_map:
            continue
        added.add(m.id)
        item = NewMemory(
            kind=m.kind,
            key=m.key,
            value=m.value,
            polarity=m.polarity,
            strength=m.strength,
            confidence=m.confidence,
            multi=m.multi,
            text=m.text,
            source=m.source,
            valid_from=m.valid_from,
            created_at=m.created_at,
            status=m.status,
            pinned=m.pinned,
            valid_to=m.valid_to,
            updated_at=m.updated_at,
            evidence=[id_map[e] for e in m.evidence if e in id_map],
        )
        mem_map[m.id] = store.add_memory(scope, item)
    for m in memories:
        if m.id in added and m.superseded_by in mem_map:
            store.set_superseded_by(scope, mem_map[m.id], mem_map[m.superseded_by])
    for c in changes:
        if c.memory_id in added:
            other = mem_map.get(c.other_id) if c.other_id is not None else None
            store.log_change(scope, mem_map[c.memory_id], c.action, at=c.at, detail=c.detail, other_id=other)
    remap = event_remapper(id_map)
    for s in summaries:
        store.add_summary(scope, s.task, s.text, remap(s.covers_to_event), s.events_covered, s.created_at)
    return mem_map


def event_remapper(id_map: Mapping[int, int]) -> Callable[[int], int]:
    """A function giving, for an old event id, the new id of the last old event up to it
    (0: before all of them): where a summary or a mark that pointed there now points."""
    old_ids = sorted(id_map)

    def remap(event_id: int) -> int:
        n = bisect.bisect_right(old_ids, event_id)
        return id_map[old_ids[n - 1]] if n else 0

    return remap


def restore_sensitive(
    store: Store,
    scope: Scope,
    off: Sequence[str],
    uses: Sequence[SensitiveUse],
    event_map: Mapping[int, int],
    memory_map: Mapping[int, int],
) -> None:
    """Store the user's switched-off categories (when any) and append their audit log, each
    entry's item remapped to its new id (0 when the item did not come along)."""
    if off:
        store.set_sensitive_off(scope, off, at=utcnow())
    maps = {"event": event_map, "memory": memory_map}
    store.log_sensitive_uses(scope, [u.model_copy(update={"item_id": maps[u.source].get(u.item_id, 0)}) for u in uses])
