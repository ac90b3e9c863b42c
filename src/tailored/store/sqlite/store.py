"""The embedded SQLite store: one file with events, vectors, memories and keys.

Why these settings:
- WAL with ``synchronous=FULL``: a commit is on disk before ``add`` returns, and readers
  never block the writer. Reads outside a write transaction go through read-only
  connections (one per concurrent reader, reused), so a search never waits for another
  thread's commit and fsync;
- ``BEGIN IMMEDIATE`` for writes plus a long busy timeout: several processes can ingest at
  once, each batch is one transaction, so a batch is stored whole or not at all;
- ``secure_delete`` + ``VACUUM`` on erase: an erased user's text leaves no bytes behind in
  the file or its free pages.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, quote

import numpy as np

from ...errors import InvalidInput, StoreError
from ...types import AddResult, ApiKey, Event, EventIn, Stats, UserStats, utcnow
from ..base import EventFilter, Scope, StoredKey, UserIndexData
from .catalog import CatalogTables
from .codec import dt as _dt
from .codec import encode as _encode
from .codec import us as _us
from .memories import MemoryTables, erase_memories
from .schema import migrations
from .sensitive import SensitiveTables, erase_sensitive
from .webhooks import WebhookTables, announce_erase

Row = tuple[Any, ...]


@contextmanager
def map_errors(action: str) -> Iterator[None]:
    """The one place driver errors become ``TailoredError``s (the chained cause is kept)."""
    try:
        yield
    except OverflowError as exc:
        raise InvalidInput("a number or time is outside the range the store holds") from exc
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{action}: {exc}") from exc


def _create_private(path: Path) -> None:
    """Create the folder (0700) and the file (0600) if missing; leave existing ones alone."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


_EVENT_COLS = "id, tenant, user_id, kind, role, text, payload, time_us, ingested_us, session_id, source_id"


_KEY_COLS = "id, tenant, admin, label, created_us, revoked_us, user_id"


def _row_key(r: Row) -> ApiKey:
    return ApiKey(
        id=r[0],
        tenant=r[1],
        admin=bool(r[2]),
        label=r[3],
        created_at=_dt(r[4]),
        revoked_at=_dt(r[5]) if r[5] is not None else None,
        user_id=r[6],
    )


def _row_event(r: Row) -> Event:
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


def _user_stats(user_id: str, row: Row | None) -> UserStats:
    """``row`` is (user, events, first time, last time), or None for a user without events."""
    if row is None or not row[1]:
        return UserStats(user_id=user_id, events=0, first=None, last=None)
    return UserStats(user_id=user_id, events=row[1], first=_dt(row[2]), last=_dt(row[3]))


class SQLiteStore(MemoryTables, CatalogTables, WebhookTables, SensitiveTables):
    """The embedded default store: one file. ``SQLiteStore.open(url)`` opens and migrates it.

    The file and its folder are created readable by the owner only (0600 / 0700): they
    hold users' personal data. SQLite gives the WAL and shared-memory files the same mode.
    """

    def __init__(self, path: str | Path, *, migrate: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.url = f"sqlite:///{self.path}" + ("?mode=ro" if readonly else "")
        self._lock = threading.RLock()  # guards the write connection
        self._depth = 0
        self._writer_thread: int | None = None  # the thread inside a write transaction
        self._idle_readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()  # not the write lock: a reader never waits for a writer
        self._closed = False
        with map_errors(f"cannot open database {self.path}"):
            if readonly and not self.path.is_file():
                raise StoreError(f"no store at {self.path}")
            if not readonly:
                _create_private(self.path)
            self._conn = self._connect()
            if not readonly:
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA secure_delete = ON")
        if migrate and not readonly:
            self.migrate()
        else:
            self._conn.execute("PRAGMA foreign_keys = ON")

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """The store a ``sqlite:///PATH`` URL names; the registry's entry. ``?mode=ro``
        opens an existing file read-only (every write then fails with ``StoreError``)."""
        path, _, query = url.removeprefix("sqlite:///").partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True))
        unknown = set(options) - {"mode"}
        if unknown or options.get("mode", "rwc") not in ("ro", "rwc"):
            raise InvalidInput(f"unsupported SQLite URL option in {url!r}; the one option is ?mode=ro")
        return cls(path, migrate=migrate, readonly=options.get("mode") == "ro")

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Run pending schema steps (foreign keys off meanwhile, so a step may rebuild a
        table); with ``dry_run``, only list them."""
        with self._lock, map_errors("migration failed"):
            if dry_run:
                return migrations.pending(self._conn)
            self._conn.execute("PRAGMA foreign_keys = OFF")
            try:
                return migrations.apply(self._conn)
            finally:
                self._conn.execute("PRAGMA foreign_keys = ON")

    # -- plumbing ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        target = f"file:{quote(str(self.path.resolve()))}?mode=ro" if self.readonly else str(self.path)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, timeout=60.0, uri=self.readonly)
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
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes; nested calls become savepoints."""
        with self._write():
            yield

    @contextmanager
    def _write(self, action: str = "write failed, nothing of it was stored") -> Iterator[sqlite3.Connection]:
        """The write connection inside a transaction (a savepoint when nested). Driver errors
        are mapped here, once; a failed COMMIT rolls back, so the connection never stays
        inside a half-done transaction for the next caller."""
        with self._lock, map_errors(action):
            conn = self._conn
            depth = self._depth
            conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            self._writer_thread = threading.get_ident()
            try:
                yield conn
                if depth == 0:
                    conn.execute("COMMIT")
                else:
                    conn.execute(f"RELEASE sp{depth}")
            except BaseException:
                self._undo(conn, depth)
                raise
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._writer_thread = None

    @staticmethod
    def _undo(conn: sqlite3.Connection, depth: int) -> None:
        """Roll back what this level wrote. SQLite may already have rolled the whole
        transaction back itself (disk full, I/O error): then there is nothing to undo."""
        if not conn.in_transaction:
            return
        if depth == 0:
            conn.execute("ROLLBACK")
        else:
            conn.execute(f"ROLLBACK TO sp{depth}")
            conn.execute(f"RELEASE sp{depth}")

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Rows of one query. Inside this thread's write transaction it reads through the
        write connection (to see its own uncommitted rows); otherwise through an idle
        read-only connection, opened on demand: at most one per concurrent reader."""
        if self._writer_thread == threading.get_ident():
            with self._lock, map_errors("read failed"):
                return self._conn.execute(sql, params).fetchall()
        try:
            conn = self._idle_readers.get_nowait()
        except queue.Empty:
            conn = self._open_reader()
        try:
            with map_errors("read failed"):
                return conn.execute(sql, params).fetchall()
        finally:
            self._idle_readers.put(conn)

    def _open_reader(self) -> sqlite3.Connection:
        with self._readers_lock:
            if self._closed:
                raise StoreError(f"the store {self.path} is closed")
            conn = None
            try:
                with map_errors(f"cannot open database {self.path}"):
                    conn = self._connect()
                    conn.execute("PRAGMA query_only = ON")
            except StoreError:
                if conn is not None:
                    conn.close()
                raise
            self._readers.append(conn)
            return conn

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
        heads: dict[str, tuple[int, int]] = {}  # user -> (events added, highest id)
        with self._write("write failed, nothing of the batch was stored") as conn:
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
                heads[ev.user_id] = (heads.get(ev.user_id, (0, 0))[0] + 1, eid)
                if vectors is not None:
                    conn.execute(
                        "INSERT INTO vectors (event_id, model, vec) VALUES (?, ?, ?)",
                        (eid, model, _encode(vectors[i])),
                    )
                added.append(eid)
            conn.executemany(
                "INSERT INTO user_heads (tenant, user_id, events, max_id, max_ingested_us) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, user_id) DO UPDATE SET events = events + excluded.events,"
                " max_id = excluded.max_id, max_ingested_us = excluded.max_ingested_us",
                [(tenant, user, n, top, now_us) for user, (n, top) in heads.items()],
            )
        embedded = len(added) if vectors is not None else 0
        return AddResult(added=added, duplicates=duplicates, embedded=embedded)

    def save_vectors(self, scope: Scope, ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
        with self._write("cannot save vectors") as conn:
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

    def erase_user(self, scope: Scope) -> int:
        """Delete every row of the user, then rewrite the file so no byte of it remains."""
        with self._write("erase failed") as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM events WHERE tenant = ? AND user_id = ?",
                    (scope.tenant, scope.user_id),
                )
            ]
            conn.executemany("DELETE FROM vectors WHERE event_id = ?", [(i,) for i in ids])
            conn.execute("DELETE FROM events WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
            conn.execute("DELETE FROM user_heads WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
            # keys scoped to the user go with it (tenant-wide keys have no user)
            conn.execute("DELETE FROM api_keys WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
            erase_memories(conn, scope)
            erase_sensitive(conn, scope)
            announce_erase(conn, scope, len(ids))
        with self._lock, map_errors("erase stored, but the file could not be compacted"):
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
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
        # The unary + keeps the planner on the rowid lookups of ``ids``: through the
        # (tenant, user_id, ...) index it would scan all of the user's rows.
        rows = self._read(
            f"SELECT {_EVENT_COLS} FROM events WHERE id IN ({','.join('?' * len(ids))})"
            " AND +tenant = ? AND +user_id = ?",
            [*ids, scope.tenant, scope.user_id],
        )
        by_id = {r[0]: _row_event(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def user_version(self, scope: Scope, up_to_id: int | None = None) -> tuple[int, int, int]:
        """(events, highest id, ingest time of that event) of the user, among ids <=
        ``up_to_id`` if given. The whole-user version is the user's head row (one key
        lookup, however many events); a prefix is counted through the index."""
        if up_to_id is None:
            rows = self._read(
                "SELECT events, max_id, max_ingested_us FROM user_heads WHERE tenant = ? AND user_id = ?",
                (scope.tenant, scope.user_id),
            )
            return (int(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else (0, 0, 0)
        row = self._read(
            "SELECT c, m, coalesce((SELECT ingested_us FROM events WHERE id = m), 0) FROM"
            " (SELECT count(*) AS c, coalesce(max(id), 0) AS m FROM events"
            "  WHERE tenant = ? AND user_id = ? AND id <= ?)",
            (scope.tenant, scope.user_id, up_to_id),
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def user_index(self, scope: Scope, model: str, after_id: int = 0) -> UserIndexData:
        rows = self._read(
            "SELECT e.id, e.time_us, e.session_id, e.kind, e.text, e.role, v.vec, e.ingested_us FROM events e"
            " LEFT JOIN vectors v ON v.event_id = e.id AND v.model = ?"
            " WHERE e.tenant = ? AND e.user_id = ? AND e.id > ? ORDER BY e.time_us, e.id",
            (model, scope.tenant, scope.user_id, after_id),
        )
        vectors = [None if r[6] is None else np.frombuffer(r[6], dtype="<f4") for r in rows]
        return UserIndexData.from_rows([(*r[:6], r[7]) for r in rows], vectors)

    def users(self, tenant: str, limit: int = 1000, after: str = "") -> list[UserStats]:
        # A user exists while they own any row: events, memories or summaries (an import
        # with no events, or a memory added by hand, makes such a user).
        owners = [
            r[0]
            for r in self._read(
                "SELECT user_id FROM events WHERE tenant = ? AND user_id > ?"
                " UNION SELECT user_id FROM memories WHERE tenant = ? AND user_id > ?"
                " UNION SELECT user_id FROM summaries WHERE tenant = ? AND user_id > ?"
                " ORDER BY 1 LIMIT ?",
                (tenant, after, tenant, after, tenant, after, limit),
            )
        ]
        counts: dict[str, Row] = {}
        for start in range(0, len(owners), 500):
            chunk = owners[start : start + 500]
            rows = self._read(
                "SELECT user_id, count(*), min(time_us), max(time_us) FROM events"
                f" WHERE tenant = ? AND user_id IN ({','.join('?' * len(chunk))}) GROUP BY user_id",
                [tenant, *chunk],
            )
            counts.update({r[0]: r for r in rows})
        return [_user_stats(u, counts.get(u)) for u in owners]

    def user_stats(self, scope: Scope) -> UserStats | None:
        row = self._read(
            "SELECT count(*), min(time_us), max(time_us),"
            " EXISTS (SELECT 1 FROM memories WHERE tenant = ?1 AND user_id = ?2)"
            " OR EXISTS (SELECT 1 FROM summaries WHERE tenant = ?1 AND user_id = ?2)"
            " FROM events WHERE tenant = ?1 AND user_id = ?2",
            (scope.tenant, scope.user_id),
        )[0]
        if not row[0] and not row[3]:
            return None
        return _user_stats(scope.user_id, (scope.user_id, *row[:3]))

    def stats(self, tenant: str) -> Stats:
        kinds: dict[str, int] = dict(
            self._read("SELECT kind, count(*) FROM events WHERE tenant = ? GROUP BY kind", (tenant,))
        )
        users = self._read(
            "SELECT count(*) FROM (SELECT user_id FROM events WHERE tenant = ?1"
            " UNION SELECT user_id FROM memories WHERE tenant = ?1 UNION SELECT user_id FROM summaries WHERE tenant = ?1)",
            (tenant,),
        )[0][0]
        vectors, vector_bytes = self._read(
            "SELECT count(*), coalesce(sum(length(v.vec)), 0) FROM vectors v JOIN events e ON e.id = v.event_id"
            " WHERE e.tenant = ?",
            (tenant,),
        )[0]
        text_bytes = self._read(
            "SELECT coalesce(sum(length(CAST(text AS BLOB)) + coalesce(length(CAST(payload AS BLOB)), 0)), 0)"
            " FROM events WHERE tenant = ?1",
            (tenant,),
        )[0][0]
        memory_bytes = self._read(
            "SELECT coalesce(sum(length(CAST(text AS BLOB)) + length(CAST(value AS BLOB))), 0) FROM memories"
            " WHERE tenant = ?1",
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
            tenant_bytes=int(text_bytes + vector_bytes + memory_bytes),
        )

    # -- API keys ---------------------------------------------------------------------

    def create_key(
        self, key_id: str, tenant: str, key_hash: str, admin: bool, label: str | None, user_id: str | None = None
    ) -> ApiKey:
        created = utcnow()
        with self._write("cannot create key") as conn:
            conn.execute(
                "INSERT INTO api_keys (id, tenant, hash, admin, label, created_us, user_id) VALUES (?,?,?,?,?,?,?)",
                (key_id, tenant, key_hash, int(admin), label, _us(created), user_id),
            )
        return ApiKey(
            id=key_id, tenant=tenant, admin=admin, label=label, created_at=created, revoked_at=None, user_id=user_id
        )

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
        with self._write("cannot revoke key") as conn:
            return conn.execute(sql, params).rowcount == 1

    def stored_keys(self, tenant: str) -> list[StoredKey]:
        rows = self._read(f"SELECT {_KEY_COLS}, hash FROM api_keys WHERE tenant = ? ORDER BY created_us, id", (tenant,))
        return [StoredKey(_row_key(r), r[7]) for r in rows]

    def restore_key(self, stored: StoredKey) -> bool:
        k = stored.key
        revoked = None if k.revoked_at is None else _us(k.revoked_at)
        with self._write("cannot restore key") as conn:
            cur = conn.execute(
                "INSERT INTO api_keys (id, tenant, hash, admin, label, created_us, revoked_us, user_id)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING",
                (k.id, k.tenant, stored.key_hash, int(k.admin), k.label, _us(k.created_at), revoked, k.user_id),
            )
            return cur.rowcount == 1

    def tenants(self) -> list[str]:
        rows = self._read(
            "SELECT tenant FROM events UNION SELECT tenant FROM memories UNION SELECT tenant FROM summaries"
            " UNION SELECT tenant FROM api_keys UNION SELECT tenant FROM catalog_items"
            " UNION SELECT tenant FROM webhooks ORDER BY 1"
        )
        return [r[0] for r in rows]

    def integrity_check(self) -> str:
        rows = self._read("PRAGMA integrity_check")
        return "\n".join(str(r[0]) for r in rows)
