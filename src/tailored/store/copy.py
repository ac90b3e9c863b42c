"""Copy every tenant and user from one store to another, through the ``Store`` protocol only.

Works for any pair of backends (SQLite to PostgreSQL and back). For each user it reads
everything the protocol gives (events, their vectors for the given embedding models,
memories with evidence and change log, summaries, extraction marks), writes it into the
target in one ``transaction()`` with event and memory ids remapped, then reads the target
back in the same transaction and compares counts and a checksum: a mismatch rolls the user
back and raises ``CopyMismatch``.

Ids differ between stores, so the checksum names events and memories by their position
(events in id order, memories in the store's order) instead of by id: evidence, a
summary's ``covers_to_event``, a mark, ``superseded_by`` and a change's ``other_id`` all
become positions. Ingest times are not part of it: ``add_events`` stamps its own.

Resuming: a target user whose checksum equals the source's is skipped. One whose every part
(events, memories, change log, summaries) is a prefix of the source's, what an interrupted
or hand-made partial copy leaves, is erased and copied again. Anything else is another
user's data under the same id: ``CopyConflict``, unless ``replace`` (erase, then copy).

What the protocol does not offer, and how this works around it:

- no list of a user's vector models: vectors are copied for the ``models`` the caller names;
- no list of a user's extraction marks: marks are read for the ``extractors`` the caller
  names plus every memory source;
- ``add_events`` sets ingest times to now.

API keys are tenant-level: each tenant's keys are copied with their hashes and times
(``stored_keys`` / ``restore_key``), so the same secrets work on the target. A key already
on the target is skipped when it has the same hash; with another hash or tenant it is a
``CopyConflict``. A key revoked in the source is revoked in the target too; one revoked
only in the target stays revoked.

Webhook registrations are tenant-level too: copied with their secrets (``stored_webhooks``
/ ``add_webhook``) after the tenant's users, so that writing the copied memories announces
nothing to them (a copy resumed after its webhooks arrived announces the users it then
writes). Their queue and delivery log are not copied: they describe deliveries made from
the source. A registration already on the target is skipped when its URL and secret are the
same, and is a ``CopyConflict`` otherwise.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import numpy as np

from ..errors import InvalidInput, StoreError, TailoredError
from ..types import Event, EventIn, Memory, MemoryChange, SensitiveUse, Summary
from . import local_file
from .base import Scope, Store, every_sensitive_use
from .restore import event_remapper, restore_memories, restore_sensitive

Outcome = Literal["copied", "skipped", "resumed", "replaced"]
BATCH = 1000  # events per add_events call
PAGE = 1000  # users per users() page, events per list_events page
R = TypeVar("R")
SUPERSEDED_BY = 15  # where a memory's replacement sits in its ``Content`` row


class CopyMismatch(TailoredError):
    """The target does not hold what was copied into it (the user was rolled back)."""

    code = "copy_mismatch"


class CopyConflict(TailoredError):
    """The target already holds different data under a user id being copied."""

    code = "copy_conflict"


# -- one user's content ------------------------------------------------------------------


@dataclass
class UserData:
    """Everything the protocol gives about one user, as read from a store."""

    scope: Scope
    events: list[Event]
    vectors: dict[str, dict[int, np.ndarray]]  # model -> event id -> vector
    memories: list[Memory]
    changes: list[MemoryChange]
    summaries: list[Summary]
    marks: dict[str, int]  # extractor -> last event id read (only those above 0)
    sensitive_off: list[str] = field(default_factory=list)  # switched-off sensitive categories
    sensitive_uses: list[SensitiveUse] = field(default_factory=list)  # their audit log


def _when(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat(timespec="microseconds")


def _upto(ids: list[int], event_id: int) -> int:
    """The position among the sorted ``ids`` of the last one up to ``event_id`` (-1: none)."""
    return bisect.bisect_right(ids, event_id) - 1


@dataclass(frozen=True)
class Content:
    """A user's data with ids replaced by positions: equal on both sides of a good copy."""

    events: list[Any]
    vectors: dict[str, list[Any]]
    memories: list[Any]
    changes: list[Any]
    summaries: list[Any]
    marks: list[Any]
    sensitive: list[Any]

    @classmethod
    def of(cls, data: UserData) -> Content:
        ids = sorted(e.id for e in data.events)
        ev_pos = {eid: n for n, eid in enumerate(ids)}
        mem_pos = {m.id: n for n, m in enumerate(data.memories)}
        events = [
            [
                e.text,
                e.role,
                e.kind,
                _when(e.time),
                e.session_id,
                e.source_id,
                None if e.payload is None else json.dumps(e.payload, sort_keys=True, ensure_ascii=False),
            ]
            for e in sorted(data.events, key=lambda e: e.id)
        ]
        vectors = {
            model: [
                [ev_pos[eid], hashlib.sha256(np.asarray(v, dtype="<f4").tobytes()).hexdigest()]
                for eid, v in sorted(found.items())
                if eid in ev_pos
            ]
            for model, found in sorted(data.vectors.items())
        }
        memories = [
            [
                m.kind,
                m.key,
                m.value,
                m.polarity,
                m.status,
                _when(m.valid_from),
                _when(m.valid_to),
                m.text,
                m.strength,
                m.confidence,
                m.multi,
                m.source,
                m.pinned,
                _when(m.created_at),
                _when(m.updated_at),
                mem_pos.get(m.superseded_by) if m.superseded_by is not None else None,
                sorted(ev_pos[e] for e in m.evidence if e in ev_pos),
            ]
            for m in data.memories
        ]
        changes = [
            [
                mem_pos.get(c.memory_id),
                _when(c.at),
                c.action,
                c.detail,
                mem_pos.get(c.other_id) if c.other_id is not None else None,
            ]
            for c in data.changes
        ]
        summaries = [
            [s.task, s.text, _upto(ids, s.covers_to_event), s.events_covered, _when(s.created_at)]
            for s in data.summaries
        ]
        marks = [[name, _upto(ids, mark)] for name, mark in sorted(data.marks.items())]
        positions = {"event": ev_pos, "memory": mem_pos}
        uses = [
            [_when(u.at), u.purpose, u.source, positions[u.source].get(u.item_id), u.categories, u.query]
            for u in data.sensitive_uses
        ]
        sensitive = [sorted(data.sensitive_off), uses]
        return cls(events, vectors, memories, changes, summaries, marks, sensitive)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "events": len(self.events),
            "vectors": sum(len(v) for v in self.vectors.values()),
            "memories": len(self.memories),
            "changes": len(self.changes),
            "summaries": len(self.summaries),
            "marks": len(self.marks),
            "sensitive_uses": len(self.sensitive[1]),
        }

    @property
    def checksum(self) -> str:
        parts = [self.events, self.vectors, self.memories, self.changes, self.summaries, self.marks]
        if self.sensitive != [[], []]:  # users without settings or log keep their earlier checksum
            parts.append(self.sensitive)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def is_prefix_of(self, other: Content) -> bool:
        """Every part of this user starts the other's: what a partial copy of it leaves."""
        prefix = all(
            mine == theirs[: len(mine)]
            for mine, theirs in (
                (self.events, other.events),
                (self.changes, other.changes),
                (self.summaries, other.summaries),
            )
        )
        # A copy links replacements after all memories are stored: a partial one may lack them.
        memories = len(self.memories) <= len(other.memories) and all(
            a == b
            or (
                a[SUPERSEDED_BY] is None
                and a[:SUPERSEDED_BY] + a[SUPERSEDED_BY + 1 :] == b[:SUPERSEDED_BY] + b[SUPERSEDED_BY + 1 :]
            )
            for a, b in zip(self.memories, other.memories)
        )
        vectors = all(
            {tuple(v) for v in mine} <= {tuple(v) for v in other.vectors.get(model, [])}
            for model, mine in self.vectors.items()
        )
        return prefix and memories and vectors

    def first_difference(self, other: Content) -> str:
        """Where two users differ, in words (for a one-line error)."""
        for name in ("events", "memories", "changes", "summaries", "marks", "sensitive"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if len(mine) != len(theirs):
                return f"{name}: {len(mine)} against {len(theirs)}"
            for n, (a, b) in enumerate(zip(mine, theirs)):
                if a != b:
                    return f"{name} #{n + 1} differs"
        if self.vectors != other.vectors:
            return "vectors differ"
        return "nothing differs"


def read_user(store: Store, scope: Scope, models: Sequence[str], extractors: Sequence[str]) -> UserData:
    """Everything ``store`` holds for the user: events in id order, the vectors of ``models``,
    memories, change log, summaries (all history), and the marks of ``extractors`` and of
    every memory source."""
    events: list[Event] = []
    while True:
        page = store.list_events(scope, limit=PAGE, after_id=events[-1].id if events else 0)
        events.extend(page)
        if len(page) < PAGE:
            break
    vectors: dict[str, dict[int, np.ndarray]] = {}
    for model in dict.fromkeys(models):
        index = store.user_index(scope, model)
        found = {int(index.ids[i]): index.vectors[i].copy() for i in np.flatnonzero(index.has_vector)}
        if found:
            vectors[model] = found
    memories = store.memories(scope)
    names = dict.fromkeys([*extractors, *(m.source for m in memories if m.source != "user")])
    marks = {name: mark for name in names if (mark := store.extraction_mark(scope, name)) > 0}
    return UserData(
        scope=scope,
        events=events,
        vectors=vectors,
        memories=memories,
        changes=store.memory_log(scope),
        summaries=store.summaries(scope, latest=False),
        marks=marks,
        sensitive_off=store.sensitive_off(scope),
        sensitive_uses=every_sensitive_use(store, scope, PAGE),
    )


def write_user(store: Store, data: UserData) -> None:
    """Store ``data`` under its scope in ``store``, where the user owns nothing yet, with
    event and memory ids remapped. The caller holds the transaction."""
    scope = data.scope
    id_map: dict[int, int] = {}
    for start in range(0, len(data.events), BATCH):
        batch = data.events[start : start + BATCH]
        items = [
            # Stored data is copied as it is: model_construct skips the input rules, which
            # may be stricter than when the event was stored.
            EventIn.model_construct(
                user_id=scope.user_id,
                kind=e.kind,
                role=e.role,
                text=e.text,
                time=e.time,
                session_id=e.session_id,
                source_id=e.source_id,
                payload=e.payload,
            )
            for e in batch
        ]
        result = store.add_events(scope.tenant, items)
        if result.duplicates or len(result.added) != len(batch):
            raise StoreError(f"user {scope.user_id!r}: the target already had some of the events")
        id_map.update({e.id: new for e, new in zip(batch, result.added)})
    for model, found in data.vectors.items():
        pairs = [(id_map[eid], v) for eid, v in found.items() if eid in id_map]
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start : start + BATCH]
            store.save_vectors(scope, [i for i, _ in chunk], np.stack([v for _, v in chunk]), model)
    memory_map = restore_memories(store, scope, data.memories, data.changes, data.summaries, id_map)
    restore_sensitive(store, scope, data.sensitive_off, data.sensitive_uses, id_map, memory_map)
    remap = event_remapper(id_map)
    for name, mark in data.marks.items():
        current = store.extraction_mark(scope, name)
        if not store.advance_mark(scope, name, expected=current, new=remap(mark)):
            raise StoreError(f"user {scope.user_id!r}: extraction mark {name!r} moved during the copy")


# -- whole stores ------------------------------------------------------------------------


@dataclass(frozen=True)
class UserResult:
    tenant: str
    user_id: str
    outcome: Outcome
    counts: dict[str, int]
    checksum: str


@dataclass
class TenantReport:
    tenant: str
    copied: int = 0  # users written (fresh, resumed or replaced)
    skipped: int = 0  # users already present with equal checksums
    resumed: int = 0  # of copied: a partial copy was erased first
    replaced: int = 0  # of copied: different data was erased first (replace=True)
    events: int = 0
    vectors: int = 0
    memories: int = 0
    changes: int = 0
    summaries: int = 0
    events_skipped: int = 0
    memories_skipped: int = 0
    keys: int = 0  # API keys copied
    keys_skipped: int = 0  # already on the target with the same hash
    catalog_items: int = 0  # catalogue items written (an item already on the target is replaced by id)
    webhooks: int = 0  # webhook registrations copied (not their queue nor log)
    webhooks_skipped: int = 0  # already on the target with the same URL and secret


@dataclass
class CopyReport:
    tenants: list[TenantReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"tenants": [vars(t) for t in self.tenants]}


def _resolved(url: str) -> str:
    """A URL in a form two spellings of one store share: a SQLite file's real path."""
    path = local_file(url)
    if path is not None:
        return "sqlite:" + os.path.realpath(path)
    return url.split("?", 1)[0].rstrip("/")


def same_store(a: str, b: str) -> bool:
    """Whether two URLs name one store (a SQLite file by its real path, others by URL)."""
    return _resolved(a) == _resolved(b)


def count_users(store: Store, tenants: Sequence[str] | None = None) -> int:
    return sum(store.stats(t).users for t in (tenants if tenants is not None else store.tenants()))


def _users(store: Store, tenant: str) -> Iterator[str]:
    after = ""
    while True:
        page = store.users(tenant, limit=PAGE, after=after)
        yield from (u.user_id for u in page)
        if len(page) < PAGE:
            return
        after = page[-1].user_id


def copy_user(
    source: Store,
    target: Store,
    scope: Scope,
    *,
    models: Sequence[str],
    extractors: Sequence[str],
    replace: bool = False,
) -> UserResult:
    """Copy one user (see the module's docstring for skip, resume and replace)."""
    data = read_user(source, scope, models, extractors)
    want = Content.of(data)
    outcome: Outcome = "copied"
    if target.user_stats(scope) is not None:
        have = Content.of(read_user(target, scope, models, extractors))
        if have.checksum == want.checksum:
            return UserResult(scope.tenant, scope.user_id, "skipped", want.counts, want.checksum)
        if have.is_prefix_of(want):
            outcome = "resumed"
        elif replace:
            outcome = "replaced"
        else:
            raise CopyConflict(
                f"tenant {scope.tenant!r}, user {scope.user_id!r}: the target holds other data"
                f" ({have.first_difference(want)}); pass --replace to overwrite it"
            )
        # Erase commits on its own (a backend may compact after it); killed right after it,
        # the next run finds the user absent and copies it whole.
        target.erase_user(scope)
    with target.transaction():
        write_user(target, data)
        got = Content.of(read_user(target, scope, models, extractors))
        if got.counts != want.counts or got.checksum != want.checksum:
            raise CopyMismatch(
                f"tenant {scope.tenant!r}, user {scope.user_id!r}: the copy does not match the source"
                f" ({got.first_difference(want)}); it was rolled back"
            )
    return UserResult(scope.tenant, scope.user_id, outcome, want.counts, want.checksum)


def _copy_records(
    records: Sequence[R],
    insert: Callable[[R], bool],
    on_target: Callable[[], Sequence[R]],
    ident: Callable[[R], str],
    same: Callable[[R, R], bool],
    what: str,
    tenant: str,
) -> tuple[int, list[tuple[R, R]]]:
    """Insert each tenant-level record the target lacks (``insert`` is False when its id is
    there); one already there must be the same record, or it is a ``CopyConflict``. Returns
    how many were copied and the (source, target) pairs of those already there. The target's
    records are read once, at the first one found there."""
    copied, kept = 0, []
    have: dict[str, R] | None = None
    for record in records:
        if insert(record):
            copied += 1
            continue
        if have is None:
            have = {ident(r): r for r in on_target()}
        other = have.get(ident(record))
        if other is None or not same(record, other):
            raise CopyConflict(
                f"tenant {tenant!r}: the target holds another {what} with id {ident(record)!r}; remove it"
                " there, or copy into another store"
            )
        kept.append((record, other))
    return copied, kept


def copy_keys(source: Store, target: Store, tenant: str) -> tuple[int, int]:
    """Copy the tenant's API keys (see the module's docstring); (copied, skipped)."""
    copied, kept = _copy_records(
        source.stored_keys(tenant),
        target.restore_key,
        lambda: target.stored_keys(tenant),
        lambda k: k.key.id,
        lambda a, b: a.key_hash == b.key_hash,
        "API key",
        tenant,
    )
    for mine, theirs in kept:
        if mine.key.revoked_at is not None and theirs.key.revoked_at is None:
            target.revoke_key(mine.key.id, tenant)
    return copied, len(kept)


def copy_webhooks(source: Store, target: Store, tenant: str) -> tuple[int, int]:
    """Copy the tenant's webhook registrations (see the module's docstring); (copied, skipped)."""
    copied, kept = _copy_records(
        source.stored_webhooks(tenant),
        target.add_webhook,
        lambda: target.stored_webhooks(tenant),
        lambda w: w.webhook.id,
        lambda a, b: (a.webhook.url, a.secret) == (b.webhook.url, b.secret),
        "webhook",
        tenant,
    )
    return copied, len(kept)


def copy_catalog(source: Store, target: Store, tenant: str) -> int:
    """Copy the tenant's catalogue, a page at a time, each page checked as read back; items
    are upserted by id, so a rerun writes the same items again and changes nothing."""
    copied, after = 0, ""
    while page := source.catalog_items(tenant, limit=PAGE, after=after):
        with target.transaction():
            target.put_catalog_items(tenant, page)
            got = target.catalog_items(tenant, ids=[item.id for item in page])
            if got != page:
                raise CopyMismatch(f"tenant {tenant!r}: the catalogue does not match the source after {after!r}")
        copied += len(page)
        after = page[-1].id
    return copied


def copy_store(
    source: Store,
    target: Store,
    *,
    models: Sequence[str],
    extractors: Sequence[str] = (),
    replace: bool = False,
    tenants: Sequence[str] | None = None,
    on_user: Callable[[UserResult], None] | None = None,
) -> CopyReport:
    """Copy every user of every tenant (or of ``tenants``) from ``source`` into ``target``,
    each in one target transaction, verified; ``on_user`` is called after each one."""
    if same_store(source.url, target.url):
        raise InvalidInput("the source and the target are the same store")
    if not models:
        raise InvalidInput("name at least one embedding model whose vectors to copy")
    report = CopyReport()
    names = list(tenants) if tenants is not None else source.tenants()
    for tenant in names:
        row = TenantReport(tenant)
        report.tenants.append(row)
        row.keys, row.keys_skipped = copy_keys(source, target, tenant)
        row.catalog_items = copy_catalog(source, target, tenant)
        for user_id in _users(source, tenant):
            result = copy_user(
                source, target, Scope(tenant, user_id), models=models, extractors=extractors, replace=replace
            )
            c = result.counts
            if result.outcome == "skipped":
                row.skipped += 1
                row.events_skipped += c["events"]
                row.memories_skipped += c["memories"]
            else:
                row.copied += 1
                row.resumed += result.outcome == "resumed"
                row.replaced += result.outcome == "replaced"
                row.events += c["events"]
                row.vectors += c["vectors"]
                row.memories += c["memories"]
                row.changes += c["changes"]
                row.summaries += c["summaries"]
            if on_user is not None:
                on_user(result)
        row.webhooks, row.webhooks_skipped = copy_webhooks(source, target, tenant)
    return report
