"""Reading and editing a user's profile: extraction runs, as-of views, why, user edits.

``Engine`` delegates its memory verbs here. Extraction is incremental: each extractor
keeps a mark of the last event it read for the user, advanced (compare-and-set) in the
same transaction that stores what it found, so a crash never skips or repeats events, and
two runs at once (threads or processes) apply each batch exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..errors import InvalidInput, NotFound, explain
from ..store import EventFilter, Scope, Store
from ..store.restore import restore_memories
from ..types import (
    Explanation,
    Memory,
    MemoryIn,
    MemorySource,
    Profile,
    Summary,
    UserExport,
    utcnow,
)
from .base import Extractor
from .evolve import Evolver


def extract(store: Store, scope: Scope, extractor: Extractor, max_events: int | None = None) -> list[int]:
    """Run ``extractor`` over the user's events it has not read yet; returns touched memory ids.

    The extractor runs outside any transaction (it may be a slow model call). Its findings
    are applied only if the mark is still where this run read it; otherwise another run
    has applied that batch meanwhile, and this one starts over from the new mark.
    """
    touched: list[int] = []
    if extractor.name == "user":
        raise InvalidInput("an extractor cannot be named 'user': that source marks the user's own edits")
    source: MemorySource = extractor.name  # a third-party extractor's memories carry its name
    done = 0
    while max_events is None or done < max_events:
        mark = store.extraction_mark(scope, extractor.name)
        events = store.list_events(scope, EventFilter(), limit=extractor.batch_size, after_id=mark)
        if not events:
            break
        proposals = extractor.extract(events, store.memories(scope, statuses=["active"]))
        with store.transaction():
            if not store.advance_mark(scope, extractor.name, expected=mark, new=events[-1].id):
                continue  # another run applied this batch first
            touched.extend(Evolver(store, scope).apply(proposals, source))
        done += len(events)
    return touched


def profile(store: Store, scope: Scope, as_of: datetime | None = None) -> Profile:
    when = as_of or utcnow()
    valid = [m for m in store.memories(scope, as_of=when) if m.status != "deleted"]
    return Profile(
        user_id=scope.user_id,
        as_of=when,
        facts=[m for m in valid if m.kind == "fact"],
        preferences=[m for m in valid if m.kind == "preference"],
        summaries=store.summaries(scope),
    )


def history(store: Store, scope: Scope) -> list[Memory]:
    return store.memories(scope)


def get(store: Store, scope: Scope, memory_id: int) -> Memory:
    found = store.memory(scope, memory_id)
    if found is None:
        raise NotFound(f"no memory {memory_id} for user {scope.user_id!r}")
    return found


def why(store: Store, scope: Scope, memory_id: int) -> Explanation:
    m = get(store, scope, memory_id)
    return Explanation(memory=m, evidence=store.get_events(scope, m.evidence), changes=store.memory_log(scope, m.id))


def remember(store: Store, scope: Scope, item: MemoryIn | dict[str, Any]) -> Memory:
    """A memory the user states directly; it wins over anything extracted."""
    if isinstance(item, dict):
        try:
            item = MemoryIn.model_validate(item)
        except ValidationError as exc:
            raise InvalidInput(f"invalid memory: {explain(exc)}") from exc
    touched = Evolver(store, scope).apply([item], "user")
    if not touched:
        raise InvalidInput("the memory changed nothing")
    return get(store, scope, touched[0])


def correct(store: Store, scope: Scope, memory_id: int, changes: dict[str, Any]) -> Memory:
    """Replace a memory with a corrected one made by the user; the old one becomes history."""
    old = get(store, scope, memory_id)
    if old.status != "active":
        raise InvalidInput(f"memory {memory_id} is {old.status}; only an active memory can be edited")
    allowed = {"value", "polarity", "strength", "confidence", "text", "key"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot edit {sorted(unknown)}; editable: {sorted(allowed)}")
    if all(v is None for v in changes.values()):
        raise InvalidInput(f"nothing to change; editable: {sorted(allowed)}")
    fields = {
        "kind": old.kind,
        "key": old.key,
        "value": old.value,
        "polarity": old.polarity,
        "strength": old.strength,
        "confidence": 1.0,
        "multi": old.multi,
        "evidence": old.evidence,
        "text": "",
    }
    fields.update({k: v for k, v in changes.items() if v is not None})
    if "text" not in changes:
        fields["text"] = ""
    try:
        item = MemoryIn.model_validate(fields)
    except ValidationError as exc:
        raise InvalidInput(f"invalid edit: {explain(exc)}") from exc
    now = utcnow()
    with store.transaction():
        # Close the old version first, so that the correction never merges back into it.
        store.close_memory(scope, memory_id, status="superseded", valid_to=now, at=now)
        new_id = Evolver(store, scope, now).apply([item], "user")[0]
        store.set_superseded_by(scope, memory_id, new_id)
        store.log_change(scope, memory_id, "edited", at=now, detail="corrected by the user", other_id=new_id)
    return get(store, scope, new_id)


def delete(store: Store, scope: Scope, memory_id: int) -> Memory:
    """The user removes a memory: it leaves the profile and is not extracted again from
    statements made before now."""
    m = get(store, scope, memory_id)
    now = utcnow()
    with store.transaction():
        store.close_memory(scope, m.id, status="deleted", valid_to=now, at=now)
        store.set_pinned(scope, m.id, False, at=now)
        store.log_change(scope, m.id, "deleted", at=now, detail="deleted by the user")
    return get(store, scope, m.id)


def pin(store: Store, scope: Scope, memory_id: int, pinned: bool = True) -> Memory:
    """A pinned memory is always in the context and never replaced by extraction."""
    m = get(store, scope, memory_id)
    if m.status != "active":
        raise InvalidInput(f"memory {memory_id} is {m.status}; only an active memory can be pinned")
    now = utcnow()
    with store.transaction():
        store.set_pinned(scope, m.id, pinned, at=now)
        store.log_change(scope, m.id, "pinned" if pinned else "unpinned", at=now, detail="by the user")
    return get(store, scope, m.id)


def import_memories(store: Store, scope: Scope, data: UserExport, id_map: dict[int, int]) -> dict[int, int]:
    """Restore exported memories, their history and summaries, with event ids remapped;
    returns old memory id -> new."""
    with store.transaction():
        # What the user already holds (the same export imported again) is not stored twice.
        held = {_identity(m): m.id for m in store.memories(scope)}
        present = {m.id: held[_identity(m)] for m in data.memories if _identity(m) in held}
        have = {(s.task, s.text, s.created_at) for s in store.summaries(scope, latest=False)}
        summaries = [s for s in data.summaries if (s.task, s.text, s.created_at) not in have]
        return restore_memories(store, scope, data.memories, data.changes, summaries, id_map, present)


def _identity(m: Memory) -> tuple[object, ...]:
    """What makes two stored memories the same one, apart from ids and evidence."""
    return (m.kind, m.key, m.value, m.polarity, m.text, m.source, m.status, m.valid_from, m.valid_to, m.created_at)


def template_summary(p: Profile) -> str:
    """A summary without an LLM: the current profile grouped by stance."""
    groups: dict[str, list[str]] = {"Likes": [], "Dislikes": [], "Avoids": []}
    for m in p.preferences:
        label = {"like": "Likes", "dislike": "Dislikes", "avoid": "Avoids"}.get(m.polarity or "", "Likes")
        groups[label].append(m.value if m.value else m.key)
    parts = [f"{label}: {', '.join(values)}." for label, values in groups.items() if values]
    facts = [f"{m.key}: {m.value}" for m in p.facts]
    if facts:
        parts.append("Facts: " + "; ".join(facts) + ".")
    return " ".join(parts) or "Nothing is known about this user yet."


def summarize(store: Store, scope: Scope, task: str, write: Any, min_new_events: int, force: bool) -> Summary:
    """Refresh the user's ``task`` summary when ``min_new_events`` arrived since the last one.

    ``write(profile, events)`` produces the text (a template or an LLM call).
    """
    last = store.summaries(scope, task=task)
    count, max_id, _ = store.user_version(scope)
    if count == 0:
        raise NotFound(f"no user {scope.user_id!r}")
    if last and not force:
        new = count - last[-1].events_covered
        if new < min_new_events:
            return last[-1]
    current = profile(store, scope)
    recent = store.list_events(scope, EventFilter(), limit=200, after_id=last[-1].covers_to_event if last else 0)
    text = write(current, recent, last[-1].text if last else None)
    return store.add_summary(scope, task, text, max_id, count, utcnow())
