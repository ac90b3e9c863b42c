"""The ``Store`` protocol: the only code that touches persistence implements it.

It speaks in domain terms (events, memories and their change log, summaries, keys), never in
columns or driver types, so code above ``store/`` is the same on every backend. It is split
by role (``EventStore``, ``MemoryStore``, ``SummaryStore``, ``KeyStore``) and combined in
``Store``, which adds transactions, migrations and an integrity check.

Every user-owned read and write takes a ``Scope`` (tenant + user). Backends put both in
every query, so one user's data cannot be reached through another's scope, whatever the
caller does. Backends raise only ``TailoredError``s: driver errors are mapped at their edge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

import numpy as np

from ..types import (
    AddResult,
    ApiKey,
    CatalogItem,
    Event,
    EventIn,
    Memory,
    MemoryChange,
    MemoryKind,
    MemorySource,
    MemoryStatus,
    Polarity,
    SensitiveUse,
    Stats,
    Summary,
    UserStats,
)
from .outbox import Delivery, DeliveryStatus, DueDelivery, StoredWebhook, Webhook

ChangeAction = Literal[
    "created", "merged", "superseded", "retracted", "edited", "deleted", "pinned", "unpinned", "conflict"
]
ClosedStatus = Literal["superseded", "retracted", "deleted"]


@dataclass(frozen=True)
class Scope:
    tenant: str
    user_id: str

    @property
    def key(self) -> str:
        """A stable token naming this user in indexes (letters and digits only)."""
        digest = hashlib.blake2b(f"{self.tenant}\x00{self.user_id}".encode(), digest_size=10)
        return "u" + digest.hexdigest()


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    until: datetime | None = None
    kinds: tuple[str, ...] | None = None
    session_id: str | None = None


@dataclass
class UserIndexData:
    """The per-user arrays retrieval keeps in memory (rows in time order)."""

    ids: np.ndarray  # int64
    times_us: np.ndarray  # int64
    sessions: list[str | None]
    kinds: list[str]
    vectors: np.ndarray  # float32 (n, dim); rows without a vector are zero
    has_vector: np.ndarray  # bool
    texts: list[str]
    roles: list[str | None]
    top_ingested_us: int = 0  # ingest time of the row with the highest id: part of the version

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]], vectors: Sequence[np.ndarray | None]) -> UserIndexData:
        """Arrays from a backend's rows, in time order: (id, time in microseconds, session,
        kind, text, role, ingest time in microseconds), with each row's vector or None. Rows
        whose vector has another dimension than the first one found count as unembedded."""
        dim = next((len(v) for v in vectors if v is not None), 0)
        matrix = np.zeros((len(rows), dim), dtype=np.float32)
        has = np.zeros(len(rows), dtype=bool)
        for i, v in enumerate(vectors):
            if v is not None and len(v) == dim:
                matrix[i] = v
                has[i] = True
        return cls(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            times_us=np.array([r[1] for r in rows], dtype=np.int64),
            sessions=[r[2] for r in rows],
            kinds=[r[3] for r in rows],
            vectors=matrix,
            has_vector=has,
            texts=[r[4] for r in rows],
            roles=[r[5] for r in rows],
            top_ingested_us=int(max(rows, key=lambda r: int(r[0]))[6]) if rows else 0,
        )

    @property
    def version(self) -> tuple[int, int, int]:
        """(rows, highest id, its ingest time): what ``Store.user_version`` returns for
        exactly these rows, so a view is labelled by what it holds, not by a second read."""
        return len(self.ids), int(self.ids.max()) if len(self.ids) else 0, self.top_ingested_us


@dataclass(frozen=True)
class NewMemory:
    """A memory to store, as evolution (or an import) decided it: every field explicit."""

    kind: MemoryKind
    key: str
    value: str
    polarity: Polarity | None
    strength: float
    confidence: float
    multi: bool
    text: str
    source: MemorySource
    valid_from: datetime
    created_at: datetime
    status: MemoryStatus = "active"
    pinned: bool = False
    valid_to: datetime | None = None
    superseded_by: int | None = None
    evidence: Sequence[int] = ()
    updated_at: datetime | None = None  # None: the same as ``created_at``


class EventStore(Protocol):
    """Immutable, timestamped events with their vectors: what a user did and said."""

    def add_events(
        self,
        tenant: str,
        events: Sequence[EventIn],
        vectors: np.ndarray | None = None,
        model: str | None = None,
    ) -> AddResult:
        """Store a batch whole or not at all; events whose (user, source_id) is stored are
        counted as duplicates and skipped. Ids only grow and are never handed out again."""
        ...

    def list_events(
        self, scope: Scope, flt: EventFilter = EventFilter(), limit: int = 100, after_id: int = 0
    ) -> list[Event]:
        """A page of the user's events in id order, after ``after_id``."""
        ...

    def get_events(self, scope: Scope, ids: Sequence[int]) -> list[Event]:
        """The user's events among ``ids``, in the order asked; others' ids are ignored."""
        ...

    def event_ids_by_source(self, scope: Scope, source_ids: Sequence[str]) -> dict[str, int]: ...

    def user_index(self, scope: Scope, model: str, after_id: int = 0) -> UserIndexData:
        """The user's rows after ``after_id`` in time order, with ``model``'s vectors."""
        ...

    def user_version(self, scope: Scope, up_to_id: int | None = None) -> tuple[int, int, int]:
        """(events, highest id, its ingest time): changes whenever the user's events do."""
        ...

    def save_vectors(self, scope: Scope, ids: Sequence[int], vectors: np.ndarray, model: str) -> None: ...

    def users(self, tenant: str, limit: int = 1000, after: str = "") -> list[UserStats]:
        """Users of the tenant who own anything (events, memories or summaries), by id."""
        ...

    def user_stats(self, scope: Scope) -> UserStats | None:
        """The user's counts, or None when they own nothing at all."""
        ...

    def stats(self, tenant: str) -> Stats: ...

    def erase_user(self, scope: Scope) -> int:
        """Remove every trace of the user (rows, vectors, indexes, memories, summaries, marks)
        so that not a byte of it stays behind; returns the number of events removed."""
        ...


class MemoryStore(Protocol):
    """Memories with their lifetimes, evidence and change log, and extraction progress."""

    def memories(
        self,
        scope: Scope,
        *,
        kind: str | None = None,
        key: str | None = None,
        statuses: Sequence[MemoryStatus] | None = None,
        as_of: datetime | None = None,
    ) -> list[Memory]:
        """The user's memories, oldest first; ``as_of`` keeps those valid at that time."""
        ...

    def memory(self, scope: Scope, memory_id: int) -> Memory | None: ...

    def add_memory(self, scope: Scope, item: NewMemory) -> int:
        """Store a memory and link its evidence (only the user's own events); returns its id."""
        ...

    def close_memory(
        self,
        scope: Scope,
        memory_id: int,
        *,
        status: ClosedStatus,
        valid_to: datetime,
        at: datetime,
        by: int | None = None,
    ) -> None:
        """End a memory's validity at ``valid_to`` (a change made at ``at``); ``by`` names
        the memory that replaced it."""
        ...

    def reinforce(
        self,
        scope: Scope,
        memory_id: int,
        *,
        confidence: float,
        strength: float,
        evidence: Sequence[int],
        at: datetime,
        valid_from: datetime | None = None,
    ) -> None:
        """The same claim was made again: new confidence and strength, more evidence."""
        ...

    def link_evidence(self, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None: ...

    def set_pinned(self, scope: Scope, memory_id: int, pinned: bool, *, at: datetime) -> None: ...

    def set_superseded_by(self, scope: Scope, memory_id: int, by: int) -> None: ...

    def log_change(
        self,
        scope: Scope,
        memory_id: int,
        action: ChangeAction,
        *,
        at: datetime,
        detail: str = "",
        other_id: int | None = None,
    ) -> None: ...

    def memory_log(self, scope: Scope, memory_id: int | None = None) -> list[MemoryChange]: ...

    def extraction_mark(self, scope: Scope, extractor: str) -> int:
        """The last event id ``extractor`` has read for the user (0: none)."""
        ...

    def advance_mark(self, scope: Scope, extractor: str, *, expected: int, new: int) -> bool:
        """Compare-and-set: move the mark from ``expected`` to ``new``; False (and nothing
        changed) when another run moved it first. Call it inside the transaction that stores
        what the run found, so that two runs never apply the same events twice."""
        ...


class SummaryStore(Protocol):
    def add_summary(
        self, scope: Scope, task: str, text: str, covers_to_event: int, events_covered: int, at: datetime
    ) -> Summary: ...

    def summaries(self, scope: Scope, task: str | None = None, latest: bool = True) -> list[Summary]:
        """The user's summaries (the latest per task when ``latest``), oldest first."""
        ...


@dataclass(frozen=True)
class StoredKey:
    """A key as stored: its public record and the hash of its secret. Only copying keys
    between stores needs the hash; the secret itself is never stored anywhere."""

    key: ApiKey
    key_hash: str


class KeyStore(Protocol):
    """API keys, stored as hashes only."""

    def create_key(
        self, key_id: str, tenant: str, key_hash: str, admin: bool, label: str | None, user_id: str | None = None
    ) -> ApiKey:
        """Store a key; with ``user_id`` it is scoped to that one user of ``tenant``."""
        ...

    def find_key(self, key_hash: str) -> ApiKey | None: ...

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str, tenant: str | None = None) -> bool:
        """Revoke a live key (of ``tenant`` only, when given); False if there is none."""
        ...

    def tenants(self) -> list[str]: ...

    def stored_keys(self, tenant: str) -> list[StoredKey]:
        """The tenant's keys with their hashes, oldest first (for ``db copy``)."""
        ...

    def restore_key(self, stored: StoredKey) -> bool:
        """Insert a key exactly as given (hash, times, revocation); False, writing nothing,
        when its id is already present."""
        ...


@dataclass(frozen=True)
class Interaction:
    """One user-item interaction event, as recommenders read it (a tenant-wide read)."""

    user_id: str
    item_id: str
    kind: str
    time_us: int
    rating: float | None
    event_id: int


class CatalogStore(Protocol):
    """The tenant's catalogue of items. What users did with items are their events (kinds
    in ``types.INTERACTION_KINDS``, the item id in ``payload["item"]``), so export and
    erase of a user cover their interactions with no part here."""

    def put_catalog_items(self, tenant: str, items: Sequence[CatalogItem]) -> int:
        """Insert or replace items by id, all of them or none; returns how many."""
        ...

    def catalog_items(
        self, tenant: str, ids: Sequence[str] | None = None, limit: int | None = None, after: str = ""
    ) -> list[CatalogItem]:
        """Items by id order (those among ``ids`` when given; unknown ids are left out)."""
        ...

    def catalog_count(self, tenant: str) -> int: ...

    def delete_catalog_items(self, tenant: str, ids: Sequence[str]) -> int: ...

    def interactions(self, tenant: str, kinds: Sequence[str], user_id: str | None = None) -> list[Interaction]:
        """Interaction events of the tenant (of one user when given), in time order; events
        whose payload names no item are left out."""
        ...


class WebhookStore(Protocol):
    """Webhook registrations and their outbox: events to announce and the delivery log.

    Events are enqueued by the backend itself, in the transaction of the change they
    announce (``log_change``, ``erase_user``), for each registration of the tenant that
    subscribed to the event's type. ``erase_user`` removes the user's queued and logged
    events in its transaction, then enqueues ``user.erased``, which names the user only."""

    def add_webhook(self, stored: StoredWebhook) -> bool:
        """Store a registration as given; False, writing nothing, when its id is taken."""
        ...

    def webhooks(self, tenant: str) -> list[Webhook]:
        """The tenant's registrations, oldest first."""
        ...

    def stored_webhooks(self, tenant: str) -> list[StoredWebhook]:
        """The tenant's registrations with their secrets (for ``db copy``)."""
        ...

    def remove_webhook(self, tenant: str, webhook_id: str) -> bool:
        """Remove a registration of ``tenant`` with its queue and log; False if none."""
        ...

    def claim_deliveries(self, owner: str, *, now: datetime, lease_s: float, limit: int) -> list[DueDelivery]:
        """Lease up to ``limit`` pending deliveries that are due and not leased (or whose
        lease ran out) to ``owner`` for ``lease_s`` seconds, oldest first. Two workers never
        hold one delivery at once; one that dies leaves it to be claimed again."""
        ...

    def finish_delivery(
        self,
        delivery_id: int,
        owner: str,
        *,
        at: datetime,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> bool:
        """Record an attempt by the lease's ``owner``: delivered, to be retried at
        ``retry_at``, or (neither) failed for good. False, recording nothing, when the lease
        is no longer ``owner``'s."""
        ...

    def deliveries(
        self,
        tenant: str,
        *,
        status: DeliveryStatus | None = None,
        webhook_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Delivery]:
        """A page of the tenant's delivery log in id order, after ``after_id``."""
        ...

    def replay_deliveries(self, tenant: str, delivery_id: int | None, *, at: datetime) -> list[int]:
        """Queue again, as new pending deliveries due at ``at``: one delivery of the tenant
        (any status but pending), or with None every failed one. The replayed rows are
        marked ``replayed`` (one failed row is replayed once). Returns the new ids."""
        ...


class SensitiveStore(Protocol):
    """A user's sensitive-category settings and the audit log of their sensitive items' uses.

    The settings are one set of category names per user (``all`` among them switches every
    category off), replaced whole. The log is append-only; an erase removes both."""

    def sensitive_off(self, scope: Scope) -> list[str]:
        """The categories the user switched off, sorted (empty: none)."""
        ...

    def set_sensitive_off(self, scope: Scope, categories: Sequence[str], *, at: datetime) -> None:
        """Replace the user's set of switched-off categories (empty: all on)."""
        ...

    def log_sensitive_uses(self, scope: Scope, uses: Sequence[SensitiveUse]) -> None:
        """Append ``uses`` (their ``id`` is ignored: the store numbers them)."""
        ...

    def sensitive_uses(self, scope: Scope, *, limit: int = 100, after_id: int = 0) -> list[SensitiveUse]:
        """A page of the user's log in id order (oldest first) after ``after_id``."""
        ...


def use_params(scope: Scope, u: SensitiveUse, at: object) -> tuple[object, ...]:
    """The insert parameters of a log entry, in the tables' column order (``at`` as the backend stores times)."""
    return (scope.tenant, scope.user_id, at, u.purpose, u.source, u.item_id, ",".join(u.categories), u.query)


def use_from_row(r: Sequence[Any], at: datetime) -> SensitiveUse:
    """A log entry from ``(id, at, purpose, source, item_id, categories, query)``."""
    categories = [c for c in r[5].split(",") if c]
    return SensitiveUse(id=r[0], at=at, purpose=r[2], source=r[3], item_id=r[4], categories=categories, query=r[6])


def every_sensitive_use(store: SensitiveStore, scope: Scope, page: int = 5000) -> list[SensitiveUse]:
    """The user's whole audit log, read a page at a time."""
    found: list[SensitiveUse] = []
    while True:
        batch = store.sensitive_uses(scope, limit=page, after_id=found[-1].id if found else 0)
        found.extend(batch)
        if len(batch) < page:
            return found


class Store(EventStore, MemoryStore, SummaryStore, KeyStore, CatalogStore, WebhookStore, SensitiveStore, Protocol):
    """Everything persistence offers, behind one URL (``sqlite:///file.db``, ...)."""

    url: str

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """One atomic unit of writes; nested calls join the outer one (as savepoints, so an
        inner failure undoes only the inner part). A failed commit rolls back."""
        ...

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Apply pending schema steps (or with ``dry_run`` only list them, writing nothing)."""
        ...

    def integrity_check(self) -> str:
        """``"ok"``, or what the backend found wrong."""
        ...
