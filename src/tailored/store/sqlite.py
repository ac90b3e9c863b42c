"""The embedded SQLite store: one file with events, an FTS5 (BM25) index and vectors.

Why these settings:
- WAL with ``synchronous=FULL``: a commit is on disk before ``add`` returns, and readers
  never block the writer. Reads outside a write transaction go through read-only
  connections (one per concurrent reader, reused), so a search never waits for another
  thread's commit and fsync;
- ``BEGIN IMMEDIATE`` for writes plus a long busy timeout: several processes can ingest at
  once, each batch is one transaction, so a batch is stored whole or not at all;
- ``secure_delete`` + FTS5 ``optimize`` + ``VACUUM`` on erase: an erased user's text leaves
  no bytes behind in the file, its free pages or the index segments.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, StoreError
from ..types import AddResult, ApiKey, Event, EventIn, Stats, UserStats, utcnow
from .base import EventFilter, Scope, UserIndexData
from .migrations import Migrations
from .sqlite_memories import MemoryTables

migrations = Migrations("tailored")


@migrations
def m001_events(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            role TEXT,
            text TEXT NOT NULL,
            payload TEXT,
            time_us INTEGER NOT NULL,
            ingested_us INTEGER NOT NULL,
            session_id TEXT,
            source_id TEXT
        )"""
    )
    conn.execute("CREATE INDEX events_user_time ON events (tenant, user_id, time_us, id)")
    conn.execute("CREATE UNIQUE INDEX events_source ON events (tenant, user_id, source_id) WHERE source_id IS NOT NULL")


@migrations
def m002_fulltext(conn: sqlite3.Connection) -> None:
    # rowid = events.id. ``owner`` holds the Scope key, indexed, so that FTS5 intersects a
    # user's postings with the query's: a MATCH is scoped to one user inside the index.
    conn.execute(
        "CREATE VIRTUAL TABLE events_fts USING fts5("
        " text, speaker, owner, tokenize = 'porter unicode61 remove_diacritics 2')"
    )


@migrations
def m003_vectors(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE vectors (
            event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vec BLOB NOT NULL,
            PRIMARY KEY (event_id, model)
        ) WITHOUT ROWID"""
    )


@migrations
def m004_api_keys(conn: sqlite3.Connection) -> None:
    # Only a hash of each key is stored: a leaked database does not leak working keys.
    conn.execute(
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            admin INTEGER NOT NULL DEFAULT 0,
            label TEXT,
            created_us INTEGER NOT NULL,
            revoked_us INTEGER
        )"""
    )


@migrations
def m005_memories(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            polarity TEXT,
            strength REAL NOT NULL,
            confidence REAL NOT NULL,
            multi INTEGER NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            valid_from_us INTEGER NOT NULL,
            valid_to_us INTEGER,
            superseded_by INTEGER,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX memories_aspect ON memories (tenant, user_id, kind, key)")
    conn.execute(
        """CREATE TABLE memory_evidence (
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL,
            PRIMARY KEY (memory_id, event_id)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE memory_log (
            id INTEGER PRIMARY KEY,
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            at_us INTEGER NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            other_id INTEGER
        )"""
    )
    conn.execute("CREATE INDEX memory_log_memory ON memory_log (memory_id, id)")
    conn.execute(
        """CREATE TABLE summaries (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            task TEXT NOT NULL,
            text TEXT NOT NULL,
            covers_to_event INTEGER NOT NULL,
            events_covered INTEGER NOT NULL,
            created_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX summaries_user ON summaries (tenant, user_id, task, id)")
    # How far each extractor has read each user's events: extraction resumes from here.
    conn.execute(
        """CREATE TABLE extraction_marks (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            extractor TEXT NOT NULL,
            last_event_id INTEGER NOT NULL,
            PRIMARY KEY (tenant, user_id, extractor)
        ) WITHOUT ROWID"""
    )


def _us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def _encode(vec: np.ndarray) -> bytes:
    return np.asarray(vec, dtype="<f4").tobytes()


_EVENT_COLS = "id, tenant, user_id, kind, role, text, payload, time_us, ingested_us, session_id, source_id"


_KEY_COLS = "id, tenant, admin, label, created_us, revoked_us"


def _row_key(r: tuple) -> ApiKey:  # type: ignore[type-arg]
    return ApiKey(
        id=r[0],
        tenant=r[1],
        admin=bool(r[2]),
        label=r[3],
        created_at=_dt(r[4]),
        revoked_at=_dt(r[5]) if r[5] is not None else None,
    )


def _row_event(r: tuple) -> Event:  # type: ignore[type-arg]
    return Event(
        id=r[0],
        tenant=r[1],
        user_id=r[2],
        kind=r[3],
        role=r[4],
        text=r[5],
        payload=json.loads(r[6]) if r[6] else None,
        time=_dt(r[7]),
        ingested_at=_dt(r[8]),
        session_id=r[9],
        source_id=r[10],
    )


class SQLiteStore(MemoryTables):
    """The embedded default store. ``SQLiteStore(path)`` opens (and migrates) one file."""

    def __init__(self, path: str | Path, *, migrate: bool = True) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()  # guards the write connection
        self._depth = 0
        self._writer_thread: int | None = None  # the thread inside a write transaction
        self._idle_readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the write lock: a reader never waits for a writer
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = self._connect()
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA secure_delete = ON")
            if migrate:
                migrations.apply(self._conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60.0)
        conn.execute("PRAGMA busy_timeout = 60000")
        return conn

    def close(self) -> None:
        with self._lock, self._readers_lock:
            self._closed = True
            self._conn.close()
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            while not self._idle_readers.empty():
                self._idle_readers.get_nowait()

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls become savepoints."""
        with self._lock:
            conn = self._conn
            depth = self._depth
            try:
                conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a transaction: {exc}") from exc
            self._depth += 1
            self._writer_thread = threading.get_ident()
            try:
                yield conn
            except BaseException:
                self._depth -= 1
                conn.execute("ROLLBACK" if depth == 0 else f"ROLLBACK TO sp{depth}")
                if depth:
                    conn.execute(f"RELEASE sp{depth}")
                raise
            else:
                self._depth -= 1
                conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
            finally:
                if self._depth == 0:
                    self._writer_thread = None

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
        """Rows of one query. Inside this thread's write transaction it reads through the
        write connection (to see its own uncommitted rows); otherwise through an idle
        read-only connection, opened on demand: at most one per concurrent reader."""
        if self._writer_thread == threading.get_ident():
            with self._lock:
                return self._fetch(self._conn, sql, params)
        try:
            conn = self._idle_readers.get_nowait()
        except queue.Empty:
            conn = self._open_reader()
        try:
            return self._fetch(conn, sql, params)
        finally:
            self._idle_readers.put(conn)

    def _open_reader(self) -> sqlite3.Connection:
        with self._readers_lock:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed")
            conn = None
            try:
                conn = self._connect()
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                raise StoreError(f"cannot open database {self.path}: {exc}") from exc
            self._readers.append(conn)
            return conn

    @staticmethod
    def _fetch(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[tuple]:  # type: ignore[type-arg]
        try:
            return conn.execute(sql, params).fetchall()
        except OverflowError as exc:
            raise InvalidInput("a number is outside the 64-bit range the store holds") from exc
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    # -- writes -----------------------------------------------------------------------

    def add_events(
        self,
        tenant: str,
        events: Sequence[EventIn],
        vectors: np.ndarray | None = None,
        model: str | None = None,
    ) -> AddResult:
        if vectors is not None and (model is None or len(vectors) != len(events)):
            raise InvalidInput("vectors must come with a model name and one row per event")
        now = utcnow()
        now_us = _us(now)
        added: list[int] = []
        duplicates = 0
        seen: set[tuple[str, str]] = set()
        try:
            with self.atomic() as conn:
                for i, ev in enumerate(events):
                    if ev.source_id is not None:
                        key = (ev.user_id, ev.source_id)
                        if (
                            key in seen
                            or conn.execute(
                                "SELECT 1 FROM events WHERE tenant = ? AND user_id = ? AND source_id = ?",
                                (tenant, ev.user_id, ev.source_id),
                            ).fetchone()
                        ):
                            duplicates += 1
                            continue
                        seen.add(key)
                    cur = conn.execute(
                        "INSERT INTO events (tenant, user_id, kind, role, text, payload, time_us,"
                        " ingested_us, session_id, source_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (
                            tenant,
                            ev.user_id,
                            ev.kind,
                            ev.role,
                            ev.text,
                            json.dumps(ev.payload, ensure_ascii=False) if ev.payload is not None else None,
                            _us(ev.time) if ev.time else now_us,
                            now_us,
                            ev.session_id,
                            ev.source_id,
                        ),
                    )
                    eid = int(cur.lastrowid or 0)
                    conn.execute(
                        "INSERT INTO events_fts (rowid, text, speaker, owner) VALUES (?, ?, ?, ?)",
                        (eid, ev.text, ev.role or "", Scope(tenant, ev.user_id).key),
                    )
                    if vectors is not None:
                        conn.execute(
                            "INSERT INTO vectors (event_id, model, vec) VALUES (?, ?, ?)",
                            (eid, model, _encode(vectors[i])),
                        )
                    added.append(eid)
        except sqlite3.Error as exc:
            raise StoreError(f"write failed, nothing of the batch was stored: {exc}") from exc
        embedded = len(added) if vectors is not None else 0
        return AddResult(added=added, duplicates=duplicates, embedded=embedded)

    def save_vectors(self, scope: Scope, ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
        try:
            with self.atomic() as conn:
                # Only events of this scope get a vector: a stray id is ignored, never linked.
                owned = {
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM events WHERE tenant = ? AND user_id = ?",
                        (scope.tenant, scope.user_id),
                    )
                }
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors (event_id, model, vec) VALUES (?, ?, ?)",
                    [(int(i), model, _encode(v)) for i, v in zip(ids, vectors) if int(i) in owned],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot save vectors: {exc}") from exc

    def erase_user(self, scope: Scope) -> int:
        """Delete every row of the user, then rewrite the file so no byte of it remains."""
        try:
            with self.atomic() as conn:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM events WHERE tenant = ? AND user_id = ?",
                        (scope.tenant, scope.user_id),
                    )
                ]
                conn.executemany("DELETE FROM vectors WHERE event_id = ?", [(i,) for i in ids])
                conn.executemany("DELETE FROM events_fts WHERE rowid = ?", [(i,) for i in ids])
                conn.execute("DELETE FROM events WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
                self._erase_memories(conn, scope)
                # Deleted FTS5 rows leave their terms in older segments until a merge:
                # optimize rewrites the index without them.
                conn.execute("INSERT INTO events_fts (events_fts) VALUES ('optimize')")
            with self._lock:
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise StoreError(f"erase failed: {exc}") from exc
        return len(ids)

    # -- reads ------------------------------------------------------------------------

    def list_events(
        self,
        scope: Scope,
        flt: EventFilter = EventFilter(),
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Event]:
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE tenant = ? AND user_id = ? AND id > ?"
        params: list[object] = [scope.tenant, scope.user_id, after_id]
        if flt.since is not None:
            sql += " AND time_us >= ?"
            params.append(_us(flt.since))
        if flt.until is not None:
            sql += " AND time_us < ?"
            params.append(_us(flt.until))
        if flt.kinds:
            sql += f" AND kind IN ({','.join('?' * len(flt.kinds))})"
            params.extend(flt.kinds)
        if flt.session_id is not None:
            sql += " AND session_id = ?"
            params.append(flt.session_id)
        sql += " ORDER BY id LIMIT ?"
        params.append(limit)
        return [_row_event(r) for r in self._read(sql, params)]

    def event_ids_by_source(self, scope: Scope, source_ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for start in range(0, len(source_ids), 500):
            chunk = list(source_ids[start : start + 500])
            rows = self._read(
                "SELECT source_id, id FROM events WHERE tenant = ? AND user_id = ?"
                f" AND source_id IN ({','.join('?' * len(chunk))})",
                [scope.tenant, scope.user_id, *chunk],
            )
            out.update({r[0]: r[1] for r in rows})
        return out

    def get_events(self, scope: Scope, ids: Sequence[int]) -> list[Event]:
        if not ids:
            return []
        rows = self._read(
            f"SELECT {_EVENT_COLS} FROM events WHERE tenant = ? AND user_id = ? AND id IN ({','.join('?' * len(ids))})",
            [scope.tenant, scope.user_id, *ids],
        )
        by_id = {r[0]: _row_event(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def text_search(self, scope: Scope, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 over this user's events: (event id, score), best first; higher is better."""
        if not terms:
            return []
        quoted = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        match = f'owner : "{scope.key}" AND {{text speaker}} : ({quoted})'
        rows = self._read(
            "SELECT rowid, -bm25(events_fts, 1.0, 0.5, 0.0) AS s FROM events_fts"
            " WHERE events_fts MATCH ? ORDER BY s DESC LIMIT ?",
            (match, limit),
        )
        return [(int(r[0]), float(r[1])) for r in rows]

    def user_version(self, scope: Scope, up_to_id: int | None = None) -> tuple[int, int, int]:
        """(events, highest id, ingest time of that event) of the user, among ids <=
        ``up_to_id`` if given. Ids of an erased user's rows can be handed out again, so the
        ingest time tells a user re-created after an erase from the one a cache holds.
        Count and highest id come from the index; the ingest time is one row lookup."""
        row = self._read(
            "SELECT c, m, coalesce((SELECT ingested_us FROM events WHERE id = m), 0) FROM"
            " (SELECT count(*) AS c, coalesce(max(id), 0) AS m FROM events"
            "  WHERE tenant = ? AND user_id = ? AND id <= ?)",
            (scope.tenant, scope.user_id, 2**63 - 1 if up_to_id is None else up_to_id),
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def user_index(self, scope: Scope, model: str, after_id: int = 0) -> UserIndexData:
        rows = self._read(
            "SELECT e.id, e.time_us, e.session_id, e.kind, e.text, e.role, v.vec, e.ingested_us FROM events e"
            " LEFT JOIN vectors v ON v.event_id = e.id AND v.model = ?"
            " WHERE e.tenant = ? AND e.user_id = ? AND e.id > ? ORDER BY e.time_us, e.id",
            (model, scope.tenant, scope.user_id, after_id),
        )
        n = len(rows)
        dim = next((len(r[6]) // 4 for r in rows if r[6] is not None), 0)
        vectors = np.zeros((n, dim), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        for i, r in enumerate(rows):
            if r[6] is not None and len(r[6]) == dim * 4:
                vectors[i] = np.frombuffer(r[6], dtype="<f4")
                has[i] = True
        return UserIndexData(
            ids=np.array([r[0] for r in rows], dtype=np.int64),
            times_us=np.array([r[1] for r in rows], dtype=np.int64),
            sessions=[r[2] for r in rows],
            kinds=[r[3] for r in rows],
            vectors=vectors,
            has_vector=has,
            texts=[r[4] for r in rows],
            roles=[r[5] for r in rows],
            top_ingested_us=int(max(rows, key=lambda r: r[0])[7]) if rows else 0,
        )

    def users(self, tenant: str, limit: int = 1000, after: str = "") -> list[UserStats]:
        rows = self._read(
            "SELECT user_id, count(*), min(time_us), max(time_us) FROM events"
            " WHERE tenant = ? AND user_id > ? GROUP BY user_id ORDER BY user_id LIMIT ?",
            (tenant, after, limit),
        )
        return [UserStats(user_id=r[0], events=r[1], first=_dt(r[2]), last=_dt(r[3])) for r in rows]

    def user_stats(self, scope: Scope) -> UserStats | None:
        row = self._read(
            "SELECT count(*), min(time_us), max(time_us) FROM events WHERE tenant = ? AND user_id = ?",
            (scope.tenant, scope.user_id),
        )[0]
        if not row[0]:
            return None
        return UserStats(user_id=scope.user_id, events=row[0], first=_dt(row[1]), last=_dt(row[2]))

    def stats(self, tenant: str) -> Stats:
        kinds = dict(self._read("SELECT kind, count(*) FROM events WHERE tenant = ? GROUP BY kind", (tenant,)))
        users = self._read("SELECT count(DISTINCT user_id) FROM events WHERE tenant = ?", (tenant,))[0][0]
        vectors = self._read(
            "SELECT count(*) FROM vectors v JOIN events e ON e.id = v.event_id WHERE e.tenant = ?",
            (tenant,),
        )[0][0]
        return Stats(
            tenant=tenant,
            users=users,
            events=sum(kinds.values()),
            vectors=vectors,
            kinds=kinds,
            db_path=str(self.path),
            db_bytes=os.path.getsize(self.path) if self.path.exists() else None,
        )

    # -- API keys ---------------------------------------------------------------------

    def create_key(self, key_id: str, tenant: str, key_hash: str, admin: bool, label: str | None) -> ApiKey:
        created = utcnow()
        try:
            with self.atomic() as conn:
                conn.execute(
                    "INSERT INTO api_keys (id, tenant, hash, admin, label, created_us) VALUES (?,?,?,?,?,?)",
                    (key_id, tenant, key_hash, int(admin), label, _us(created)),
                )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create key: {exc}") from exc
        return ApiKey(id=key_id, tenant=tenant, admin=admin, label=label, created_at=created, revoked_at=None)

    def find_key(self, key_hash: str) -> ApiKey | None:
        rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys WHERE hash = ?", (key_hash,))
        return _row_key(rows[0]) if rows else None

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        if tenant is None:
            rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_us, id")
        else:
            rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant = ? ORDER BY created_us, id", (tenant,))
        return [_row_key(r) for r in rows]

    def revoke_key(self, key_id: str, tenant: str | None = None) -> bool:
        """Revoke a key (of ``tenant`` only, when given); False if there is no such live key."""
        sql = "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL"
        params: list[object] = [_us(utcnow()), key_id]
        if tenant is not None:
            sql += " AND tenant = ?"
            params.append(tenant)
        with self.atomic() as conn:
            return conn.execute(sql, params).rowcount == 1

    def tenants(self) -> list[str]:
        rows = self._read("SELECT tenant FROM events UNION SELECT tenant FROM api_keys ORDER BY 1")
        return [r[0] for r in rows]

    def integrity_check(self) -> str:
        return str(self._read("PRAGMA integrity_check")[0][0])
