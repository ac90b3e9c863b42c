"""A per-user in-memory view of the store: vectors, BM25's inverted index, times and
timeline order.

Dense scoring a user's events is one matrix-vector product and BM25 a few posting lists,
so each user's vectors and word index are kept in memory after the first search. Every search checks the user's (count, max id) in the
store; new events are appended, anything else (an erase, another process's delete)
rebuilds the view. Events stored without a vector are embedded here, once, and saved.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..embed.base import Embedder
from ..store.base import Scope, Store, UserIndexData
from ..text import STOPWORDS
from . import bm25
from .bm25 import TermIndex

_DAY_US = 86_400 * 1_000_000
_NAME_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def embed_text(role: str | None, text: str) -> str:
    """The text a vector is computed from: who said it matters for "what did X say"."""
    return f"{role}: {text}" if role else text


@dataclass
class UserView:
    version: tuple[int, int, int]
    data: UserIndexData
    position: dict[int, int]  # event id -> row
    prev: np.ndarray  # row of the previous event of the same session, -1 if none
    next: np.ndarray
    speaker: np.ndarray  # code of each row's role, -1 if none
    speakers: dict[str, int]  # lower-case name word -> role code, for roles named in queries
    session: np.ndarray  # code of each row's session, -1 if none
    n_sessions: int
    terms: TermIndex  # BM25's inverted index of the rows, with this user's statistics only
    _calendar: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def calendar(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(day number, year, month, day of month) of each row's time, in UTC."""
        if self._calendar is None:
            days = (self.data.times_us // _DAY_US).astype("datetime64[D]")
            months = days.astype("datetime64[M]")
            self._calendar = (
                days.astype(np.int64),
                months.astype("datetime64[Y]").astype(np.int64) + 1970,
                months.astype(np.int64) % 12 + 1,
                (days - months.astype("datetime64[D]")).astype(np.int64) + 1,
            )
        return self._calendar


def _neighbours(data: UserIndexData) -> tuple[np.ndarray, np.ndarray]:
    n = len(data.ids)
    prev = np.full(n, -1, dtype=np.int64)
    nxt = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        if data.sessions[i] == data.sessions[i - 1]:
            prev[i] = i - 1
            nxt[i - 1] = i
    return prev, nxt


def _codes(values: list[str | None]) -> tuple[np.ndarray, dict[str, int]]:
    """Each value's integer code (-1 for None) and the code book."""
    book: dict[str, int] = {}
    out = np.full(len(values), -1, dtype=np.int64)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = book.setdefault(v, len(book))
    return out, book


def _name_words(roles: dict[str, int]) -> dict[str, int]:
    """Words that name a speaker in a question ("caroline" for role "Caroline Smith").

    A word shared by two roles names neither; stopwords and one-letter words never name one.
    """
    found: dict[str, int] = {}
    shared: set[str] = set()
    for role, code in roles.items():
        for w in {w.lower() for w in _NAME_WORD.findall(role)}:
            if len(w) < 2 or w in STOPWORDS:
                continue
            if w in found and found[w] != code:
                shared.add(w)
            found[w] = code
    return {w: c for w, c in found.items() if w not in shared}


def _concat(a: UserIndexData, b: UserIndexData) -> UserIndexData:
    dim = max(a.vectors.shape[1], b.vectors.shape[1])

    def widen(v: np.ndarray) -> np.ndarray:
        return v if v.shape[1] == dim else np.zeros((v.shape[0], dim), dtype=np.float32)

    merged = UserIndexData(
        ids=np.concatenate([a.ids, b.ids]),
        times_us=np.concatenate([a.times_us, b.times_us]),
        sessions=a.sessions + b.sessions,
        kinds=a.kinds + b.kinds,
        vectors=np.concatenate([widen(a.vectors), widen(b.vectors)]),
        has_vector=np.concatenate([a.has_vector, b.has_vector]),
        texts=a.texts + b.texts,
        roles=a.roles + b.roles,
        top_ingested_us=b.top_ingested_us if len(b.ids) else a.top_ingested_us,  # b holds the higher ids
    )
    order = np.lexsort((merged.ids, merged.times_us))
    if np.array_equal(order, np.arange(len(order))):
        return merged
    return UserIndexData(
        ids=merged.ids[order],
        times_us=merged.times_us[order],
        sessions=[merged.sessions[i] for i in order],
        kinds=[merged.kinds[i] for i in order],
        vectors=merged.vectors[order],
        has_vector=merged.has_vector[order],
        texts=[merged.texts[i] for i in order],
        roles=[merged.roles[i] for i in order],
        top_ingested_us=merged.top_ingested_us,
    )


def make_view(data: UserIndexData, terms: TermIndex | None = None) -> UserView:
    """The view of ``data``'s rows; ``terms`` is their inverted index when the caller
    already has it (built from scratch otherwise)."""
    prev, nxt = _neighbours(data)
    speaker, speakers = _codes(data.roles)
    session, sessions = _codes(data.sessions)
    return UserView(
        version=data.version,  # an add committed after ``version`` was read is in ``data``
        data=data,
        position={int(e): i for i, e in enumerate(data.ids)},
        prev=prev,
        next=nxt,
        speaker=speaker,
        speakers=_name_words(speakers),
        session=session,
        n_sessions=len(sessions),
        terms=terms if terms is not None else bm25.build(data.texts, data.roles),
    )


def _extended_terms(old: UserView, data: UserIndexData) -> TermIndex:
    """``old``'s inverted index extended by the rows ``data`` adds to it (ids above
    ``old``'s highest): indexing only the new rows keeps an add cheap however many rows
    the user has."""
    n = len(old.data.ids)
    moved = None
    if not np.array_equal(data.ids[:n], old.data.ids):  # a new event is dated before an old one
        row_of = {int(e): i for i, e in enumerate(data.ids)}
        moved = np.fromiter((row_of[int(e)] for e in old.data.ids), dtype=np.int64, count=n)
    new_rows = np.flatnonzero(data.ids > old.version[1])
    return bm25.extend(
        old.terms,
        moved,
        new_rows,
        [data.texts[r] for r in new_rows],
        [data.roles[r] for r in new_rows],
    )


class UserIndexCache:
    """Least-recently-used cache of ``UserView``s, safe to share between threads."""

    def __init__(self, store: Store, embedder: Embedder, max_users: int = 256) -> None:
        self.store = store
        self.embedder = embedder
        self.max_users = max_users
        self._views: OrderedDict[Scope, UserView] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self, scope: Scope) -> None:
        with self._lock:
            self._views.pop(scope, None)

    def peek(self, scope: Scope) -> UserView | None:
        """The view last built for ``scope``, not checked against the store (it may be stale)."""
        with self._lock:
            return self._views.get(scope)

    def get(self, scope: Scope) -> UserView:
        version = self.store.user_version(scope)
        with self._lock:
            view = self._views.get(scope)
            if view is not None:
                self._views.move_to_end(scope)
        if view is None or view.version != version:
            view = self._load(scope, view, version)
            with self._lock:
                self._views[scope] = view
                while len(self._views) > self.max_users:
                    self._views.popitem(last=False)
        return view

    def _load(self, scope: Scope, old: UserView | None, version: tuple[int, int, int]) -> UserView:
        """Append the rows added since ``old`` when ``old`` still holds exactly the user's
        rows up to its highest id; otherwise (an erase, a user re-created with reused ids,
        another process's delete) read the user afresh."""
        model = self.embedder.name
        appended = (
            old is not None
            and version[1] > old.version[1]
            and self.store.user_version(scope, up_to_id=old.version[1]) == old.version
        )
        if appended:
            assert old is not None
            data = _concat(old.data, self.store.user_index(scope, model, after_id=old.version[1]))
        else:
            data = self.store.user_index(scope, model)
        data = self._fill_vectors(scope, data)
        if appended and old is not None:
            return make_view(data, _extended_terms(old, data))
        return make_view(data)

    def _fill_vectors(self, scope: Scope, data: UserIndexData) -> UserIndexData:
        missing = np.flatnonzero(~data.has_vector)
        if len(missing) == 0:
            return data
        if data.vectors.shape[1] != self.embedder.dimensions:
            # No vector of this width yet (none at all, or another model's): embed every row.
            data.vectors = np.zeros((len(data.ids), self.embedder.dimensions), dtype=np.float32)
            data.has_vector[:] = False
            missing = np.arange(len(data.ids))
        texts = [embed_text(data.roles[i], data.texts[i]) for i in missing]
        vecs = self.embedder.embed(texts)
        self.store.save_vectors(scope, [int(data.ids[i]) for i in missing], vecs, self.embedder.name)
        data.vectors[missing] = vecs
        data.has_vector[missing] = True
        return data
