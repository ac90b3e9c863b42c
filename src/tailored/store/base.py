"""The ``Store`` protocol: the only code that touches persistence implements it.

Every read and write takes a ``Scope`` (tenant + user). Backends put both in every query,
so one user's data cannot be reached through another's scope, whatever the caller does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from ..types import AddResult, Event, EventIn, Stats, UserStats


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

    @property
    def version(self) -> tuple[int, int, int]:
        """(rows, highest id, its ingest time): what ``Store.user_version`` returns for
        exactly these rows, so a view is labelled by what it holds, not by a second read."""
        return len(self.ids), int(self.ids.max()) if len(self.ids) else 0, self.top_ingested_us


class Store(Protocol):
    url: str

    def close(self) -> None: ...

    def add_events(
        self,
        tenant: str,
        events: Sequence[EventIn],
        vectors: np.ndarray | None = None,
        model: str | None = None,
    ) -> AddResult: ...

    def list_events(
        self,
        scope: Scope,
        flt: EventFilter = EventFilter(),
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Event]: ...

    def get_events(self, scope: Scope, ids: Sequence[int]) -> list[Event]: ...

    def text_search(self, scope: Scope, terms: Sequence[str], limit: int) -> list[tuple[int, float]]: ...

    def user_index(self, scope: Scope, model: str, after_id: int = 0) -> UserIndexData: ...

    def user_version(self, scope: Scope, up_to_id: int | None = None) -> tuple[int, int, int]: ...

    def save_vectors(self, scope: Scope, ids: Sequence[int], vectors: np.ndarray, model: str) -> None: ...

    def users(self, tenant: str, limit: int = 1000, after: str = "") -> list[UserStats]: ...

    def stats(self, tenant: str) -> Stats: ...

    def erase_user(self, scope: Scope) -> int: ...
