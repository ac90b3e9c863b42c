"""The PostgreSQL store: events, pgvector vectors, memories and keys in one database.

Why it works this way:
- a pool of autocommit connections (psycopg-pool); a write takes one connection, runs
  BEGIN ... COMMIT on it, and a nested ``transaction()`` becomes a savepoint on the same
  connection. The connection is bound to the thread for the transaction's length, and every
  read of that thread goes through it (to see its own uncommitted rows), as the SQLite
  backend routes reads through its write connection;
- ``add_events`` takes a transaction-scoped advisory lock per user before drawing ids:
  PostgreSQL hands out sequence values before commit, so without it two concurrent batches
  of one user could commit out of id order, and an extractor that has read up to id 11
  would never see id 10 commit later. With it, a user's ids become visible in order;
- erase deletes in one transaction, then rewrites the touched tables (``VACUUM FULL``):
  a plain VACUUM marks dead tuples free but leaves their bytes in heap and index pages
  (measured), while a rewrite writes new files without them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import psycopg
from pgvector.psycopg.vector import register_vector_info
from psycopg import pq
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool

from ...errors import InvalidInput, StoreError
from ...types import AddResult, ApiKey, Event, EventIn, Stats, UserStats, utcnow
from ..base import EventFilter, Scope, StoredKey, UserIndexData
from .catalog import CatalogTables
from .codec import payload_json, us_sql
from .memories import MemoryTables
from .migrations import Conn
from .schema import TABLES, USER_TABLES, migrations
from .sensitive import SensitiveTables
from .webhooks import WebhookTables, announce_erase

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

_MINE = "tenant = %s AND user_id = %s"
_EVENT_COLS = "id, tenant, user_id, kind, role, text, payload, happened_at, ingested_at, session_id, source_id"
_KEY_COLS = "id, tenant, admin, label, created_at, revoked_at, user_id"
_USER_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


@contextmanager
def map_errors(action: str) -> Iterator[None]:
    """The one place driver errors become ``TailoredError``s (the chained cause is kept).
    A data exception (a number out of range, a value PostgreSQL cannot hold) is the
    caller's: ``InvalidInput``; anything else the driver or server raises is ``StoreError``."""
    try:
        yield
    except OverflowError as exc:
        raise InvalidInput("a number or time is outside the range the store holds") from exc
    except psycopg.DataError as exc:
        raise InvalidInput(f"{action}: the store refused a value: {_first_line(exc)}") from exc
    except psycopg.Error as exc:
        raise StoreError(f"{action}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """Errors are reported on one line (the CLI prints one)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _configure(conn: Conn) -> None:
    """Every pooled connection: UTC times, and pgvector's types once the extension exists
    (before the first migration it does not; ``migrate`` then renews the pool)."""
    info = TypeInfo.fetch(conn, "vector")
    if info is not None:
        register_vector_info(conn, info)
    conn.execute("SET TIME ZONE 'UTC'")


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


def _row_event(r: Row) -> Event:
    return Event(
        id=r[0],
        tenant=r[1],
        user_id=r[2],
        kind=r[3],
        role=r[4],
        text=r[5],
        payload=r[6],
        time=r[7],
        ingested_at=r[8],
        session_id=r[9],
        source_id=r[10],
    )


def _row_key(r: Row) -> ApiKey:
    return ApiKey(id=r[0], tenant=r[1], admin=r[2], label=r[3], created_at=r[4], revoked_at=r[5], user_id=r[6])


def _user_stats(user_id: str, row: Row | None) -> UserStats:
    """``row`` is (user, events, first time, last time), or None for a user without events."""
    if row is None or not row[1]:
        return UserStats(user_id=user_id, events=0, first=None, last=None)
    return UserStats(user_id=user_id, events=row[1], first=row[2], last=row[3])


@dataclass
class _Txn:
    """This thread's open transaction: its connection, savepoint depth, and work to do
    once it has committed (VACUUM cannot run inside a transaction)."""

    conn: Conn
    depth: int = 0
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class PostgresStore(MemoryTables, CatalogTables, WebhookTables, SensitiveTables):
    """A store in a PostgreSQL database (with the pgvector extension), named by a
    ``postgresql://user@host/db`` URL; any libpq URL parameter (``?host=/socket/dir``,
    ``sslmode``, ...) works. ``PostgresStore.open(url)`` connects and migrates."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self._where = _redact(url)
        self._local = threading.local()
        with map_errors(f"cannot open the database {self._where}"):
            # One direct connection first: a missing server or database is reported as
            # such (a pool would only time out), and migrations run before the pool's
            # connections look up pgvector's types.
            with psycopg.connect(url, autocommit=True, connect_timeout=15) as conn:
                if migrate:
                    migrations.apply(conn)
            self._pool: ConnectionPool[Conn] = ConnectionPool(
                url,
                min_size=1,
                max_size=8,
                kwargs={"autocommit": True},
                configure=_configure,
                timeout=60.0,
                open=False,
                name="tailored",
            )
            try:
                self._pool.open(wait=True, timeout=15.0)
            except BaseException:
                self._pool.close()
                raise

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Self:
        """The store a ``postgresql://`` (or ``postgres://``) URL names; the registry's entry."""
        return cls(url, migrate=migrate)

    def migrate(self, *, dry_run: bool = False) -> list[str]:
        """Run pending schema steps (or with ``dry_run`` only list them, writing nothing)."""
        with map_errors("migration failed"), self._pool.connection() as conn:
            if dry_run:
                return migrations.pending(conn)
            ran = migrations.apply(conn)
        if ran:
            self._pool.drain()  # new connections, with the types the steps created
        return ran

    def close(self) -> None:
        self._pool.close()

    # -- plumbing ---------------------------------------------------------------------

    def _txn(self) -> _Txn | None:
        txn: _Txn | None = getattr(self._local, "txn", None)
        return txn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of writes; nested calls become savepoints."""
        with self._write():
            yield

    @contextmanager
    def _write(self, action: str = "write failed, nothing of it was stored") -> Iterator[Conn]:
        """This thread's transaction connection (a savepoint when nested). Driver errors
        are mapped here, once; a failed COMMIT rolls back, and the connection goes back to
        the pool outside any transaction."""
        with map_errors(action):
            txn = self._txn()
            if txn is not None:
                with self._savepoint(txn):
                    yield txn.conn
                return
            conn = self._pool.getconn()
            txn = _Txn(conn)
            self._local.txn = txn
            try:
                conn.execute("BEGIN")
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            finally:
                self._local.txn = None
                self._pool.putconn(conn)
        for work in txn.after_commit:
            work()

    @contextmanager
    def _savepoint(self, txn: _Txn) -> Iterator[None]:
        txn.depth += 1
        name = f"sp{txn.depth}"
        try:
            txn.conn.execute(f"SAVEPOINT {name}")
            yield
            txn.conn.execute(f"RELEASE SAVEPOINT {name}")
        except BaseException:
            _rollback(txn.conn, name)
            raise
        finally:
            txn.depth -= 1

    def _read(self, sql: str, params: Params = (), *, binary: bool = False) -> list[Row]:
        """Rows of one query: through this thread's transaction connection when there is
        one (to see its own uncommitted rows), else through any pooled connection."""
        with map_errors("read failed"):
            txn = self._txn()
            if txn is not None:
                return txn.conn.execute(sql, params, binary=binary).fetchall()
            with self._pool.connection() as conn:
                return conn.execute(sql, params, binary=binary).fetchall()

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
        fresh, duplicates = _unique_in_batch(events)
        added: list[int] = []
        with self._write("write failed, nothing of the batch was stored") as conn:
            for key in sorted({Scope(tenant, events[i].user_id).key for i in fresh}):
                conn.execute(_USER_LOCK, (key,))  # sorted: two batches never wait on each other
            ids = _insert_events(conn, tenant, [events[i] for i in fresh], now)
            stored = [(i, eid) for i, eid in zip(fresh, ids) if eid is not None]
            if vectors is not None and stored:
                conn.cursor().executemany(
                    "INSERT INTO vectors (tenant, user_id, event_id, model, vec) VALUES (%s, %s, %s, %s, %s)",
                    [(tenant, events[i].user_id, eid, model, _vec(vectors[i])) for i, eid in stored],
                )
            added = [eid for _, eid in stored]
            _advance_heads(conn, tenant, [(events[i].user_id, eid) for i, eid in stored], now)
        duplicates += len(fresh) - len(added)
        embedded = len(added) if vectors is not None else 0
        return AddResult(added=added, duplicates=duplicates, embedded=embedded)

    def save_vectors(self, scope: Scope, ids: Sequence[int], vectors: np.ndarray, model: str) -> None:
        with self._write("cannot save vectors") as conn:
            # Only events of this scope get a vector: a stray id is ignored, never linked.
            conn.cursor().executemany(
                "INSERT INTO vectors (tenant, user_id, event_id, model, vec)"
                f" SELECT tenant, user_id, id, %s, %s FROM events WHERE {_MINE} AND id = %s"
                " ON CONFLICT (tenant, user_id, event_id, model) DO UPDATE SET vec = excluded.vec",
                [(model, _vec(v), scope.tenant, scope.user_id, int(i)) for i, v in zip(ids, vectors)],
            )

    def erase_user(self, scope: Scope) -> int:
        """Delete every row of the user in one transaction, then rewrite the tables that
        held any (once that transaction has committed, the outermost one if nested)."""
        touched: list[str] = []
        removed = 0
        with self._write("erase failed") as conn:
            for table in USER_TABLES:
                count = conn.execute(f"DELETE FROM {table} WHERE {_MINE}", (scope.tenant, scope.user_id)).rowcount
                if count:
                    touched.append(table)
                if table == "events":
                    removed = count
            announce_erase(conn, scope, removed)
            txn = self._txn()
            assert txn is not None  # inside _write
            txn.after_commit.append(lambda: self._rewrite(touched))
        return removed

    def _rewrite(self, tables: Sequence[str]) -> None:
        """``VACUUM FULL`` writes each table (its TOAST table and indexes too) into new
        files without the deleted rows and drops the old ones. It locks each table for its
        length: reads and writes of that table wait meanwhile."""
        if not tables:
            return
        with map_errors("erase stored, but the tables could not be rewritten"), self._pool.connection() as conn:
            # VACUUM skips, with a mere warning, a table whose owner it may not act for:
            # the erased bytes would stay without a word. Ask first, and say so.
            barred = [
                r[0]
                for r in conn.execute(
                    "SELECT c.relname FROM pg_class c WHERE c.oid = ANY(%s::regclass[])"
                    " AND NOT pg_has_role(current_user, c.relowner, 'USAGE')"
                    " AND NOT pg_has_role(current_user, (SELECT datdba FROM pg_database"
                    "  WHERE datname = current_database()), 'USAGE')",
                    (list(tables),),
                )
            ]
            if barred:
                raise StoreError(
                    f"erase stored, but {', '.join(barred)} cannot be rewritten by this role: VACUUM FULL needs"
                    " the tables' owner, so the erased rows' bytes stay in the files until their owner runs it"
                )
            for table in tables:
                conn.execute(f"VACUUM (FULL, ANALYZE) {table}")

    # -- reads ------------------------------------------------------------------------

    def list_events(
        self,
        scope: Scope,
        flt: EventFilter = EventFilter(),
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Event]:
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE {_MINE} AND id > %s"
        params: list[object] = [scope.tenant, scope.user_id, after_id]
        if flt.since is not None:
            sql += " AND happened_at >= %s"
            params.append(flt.since)
        if flt.until is not None:
            sql += " AND happened_at < %s"
            params.append(flt.until)
        if flt.kinds:
            sql += " AND kind = ANY(%s)"
            params.append(list(flt.kinds))
        if flt.session_id is not None:
            sql += " AND session_id = %s"
            params.append(flt.session_id)
        sql += " ORDER BY id LIMIT %s"
        params.append(limit)
        return [_row_event(r) for r in self._read(sql, params)]

    def event_ids_by_source(self, scope: Scope, source_ids: Sequence[str]) -> dict[str, int]:
        if not source_ids:
            return {}
        rows = self._read(
            f"SELECT source_id, id FROM events WHERE {_MINE} AND source_id = ANY(%s)",
            (scope.tenant, scope.user_id, list(source_ids)),
        )
        return {r[0]: r[1] for r in rows}

    def get_events(self, scope: Scope, ids: Sequence[int]) -> list[Event]:
        if not ids:
            return []
        rows = self._read(
            f"SELECT {_EVENT_COLS} FROM events WHERE {_MINE} AND id = ANY(%s)",
            (scope.tenant, scope.user_id, [int(i) for i in ids]),
        )
        by_id = {r[0]: _row_event(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    def user_version(self, scope: Scope, up_to_id: int | None = None) -> tuple[int, int, int]:
        """(events, highest id, ingest time of that event in microseconds) of the user,
        among ids <= ``up_to_id`` if given. The whole-user version is the user's head row
        (one key lookup); a prefix is counted through the primary key."""
        if up_to_id is None:
            rows = self._read(
                f"SELECT events, max_id, {us_sql('max_ingested_at')} FROM user_heads WHERE {_MINE}",
                (scope.tenant, scope.user_id),
            )
            return (int(rows[0][0]), int(rows[0][1]), int(rows[0][2])) if rows else (0, 0, 0)
        row = self._read(
            f"SELECT c, m, coalesce((SELECT {us_sql('ingested_at')} FROM events WHERE {_MINE} AND id = m), 0)"
            f" FROM (SELECT count(*) AS c, coalesce(max(id), 0) AS m FROM events WHERE {_MINE} AND id <= %s) s",
            (scope.tenant, scope.user_id, scope.tenant, scope.user_id, 2**63 - 1 if up_to_id is None else up_to_id),
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def user_index(self, scope: Scope, model: str, after_id: int = 0) -> UserIndexData:
        # The vector is a primary-key lookup per row, not a join: a join's plan follows the
        # statistics, and for a user whose rows are newer than the last ANALYZE it became a
        # nested loop over all the user's vectors per event (500 ms for 2,000 rows).
        # Binary results: vectors arrive as float32 bytes, not as text to parse.
        rows = self._read(
            f"SELECT e.id, {us_sql('e.happened_at')}, e.session_id, e.kind, e.text, e.role,"
            " (SELECT v.vec FROM vectors v WHERE v.tenant = e.tenant AND v.user_id = e.user_id"
            f"  AND v.event_id = e.id AND v.model = %s), {us_sql('e.ingested_at')}"
            " FROM events e WHERE e.tenant = %s AND e.user_id = %s AND e.id > %s ORDER BY e.happened_at, e.id",
            (model, scope.tenant, scope.user_id, after_id),
            binary=True,
        )
        found = [None if r[6] is None else np.asarray(r[6].to_numpy(), dtype=np.float32) for r in rows]
        return UserIndexData.from_rows([(*r[:6], r[7]) for r in rows], found)

    def users(self, tenant: str, limit: int = 1000, after: str = "") -> list[UserStats]:
        # A user exists while they own any row: events, memories or summaries.
        owners = [
            r[0]
            for r in self._read(
                "SELECT user_id FROM events WHERE tenant = %(t)s AND user_id > %(a)s"
                " UNION SELECT user_id FROM memories WHERE tenant = %(t)s AND user_id > %(a)s"
                " UNION SELECT user_id FROM summaries WHERE tenant = %(t)s AND user_id > %(a)s"
                " ORDER BY 1 LIMIT %(n)s",
                {"t": tenant, "a": after, "n": limit},
            )
        ]
        if not owners:
            return []
        rows = self._read(
            "SELECT user_id, count(*), min(happened_at), max(happened_at) FROM events"
            " WHERE tenant = %s AND user_id = ANY(%s) GROUP BY user_id",
            (tenant, owners),
        )
        counts = {r[0]: r for r in rows}
        return [_user_stats(u, counts.get(u)) for u in owners]

    def user_stats(self, scope: Scope) -> UserStats | None:
        row = self._read(
            "SELECT count(*), min(happened_at), max(happened_at),"
            " EXISTS (SELECT 1 FROM memories WHERE tenant = %(t)s AND user_id = %(u)s)"
            " OR EXISTS (SELECT 1 FROM summaries WHERE tenant = %(t)s AND user_id = %(u)s)"
            " FROM events WHERE tenant = %(t)s AND user_id = %(u)s",
            {"t": scope.tenant, "u": scope.user_id},
        )[0]
        if not row[0] and not row[3]:
            return None
        return _user_stats(scope.user_id, (scope.user_id, *row[:3]))

    def stats(self, tenant: str) -> Stats:
        kinds: dict[str, int] = {
            r[0]: int(r[1])
            for r in self._read("SELECT kind, count(*) FROM events WHERE tenant = %s GROUP BY kind", (tenant,))
        }
        row = self._read(
            "SELECT (SELECT count(*) FROM (SELECT user_id FROM events WHERE tenant = %(t)s"
            "  UNION SELECT user_id FROM memories WHERE tenant = %(t)s"
            "  UNION SELECT user_id FROM summaries WHERE tenant = %(t)s) u),"
            " (SELECT count(*) FROM vectors WHERE tenant = %(t)s),"
            " (SELECT coalesce(sum(vector_dims(vec)::bigint * 4), 0) FROM vectors WHERE tenant = %(t)s),"
            " (SELECT coalesce(sum(octet_length(text) + coalesce(octet_length(payload::text), 0)), 0)"
            "  FROM events WHERE tenant = %(t)s),"
            " (SELECT coalesce(sum(octet_length(text) + octet_length(value)), 0) FROM memories WHERE tenant = %(t)s),"
            " pg_database_size(current_database())",
            {"t": tenant},
        )[0]
        users, vectors, vector_bytes, text_bytes, memory_bytes, db_bytes = (int(v) for v in row)
        return Stats(
            tenant=tenant,
            users=users,
            events=sum(kinds.values()),
            vectors=vectors,
            kinds=kinds,
            db_path=None,
            db_bytes=db_bytes,
            tenant_bytes=vector_bytes + text_bytes + memory_bytes,
        )

    # -- API keys ---------------------------------------------------------------------

    def create_key(
        self, key_id: str, tenant: str, key_hash: str, admin: bool, label: str | None, user_id: str | None = None
    ) -> ApiKey:
        created = utcnow()
        with self._write("cannot create key") as conn:
            conn.execute(
                "INSERT INTO api_keys (id, tenant, hash, admin, label, created_at, user_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (key_id, tenant, key_hash, admin, label, created, user_id),
            )
        return ApiKey(
            id=key_id, tenant=tenant, admin=admin, label=label, created_at=created, revoked_at=None, user_id=user_id
        )

    def find_key(self, key_hash: str) -> ApiKey | None:
        rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys WHERE hash = %s", (key_hash,))
        return _row_key(rows[0]) if rows else None

    def list_keys(self, tenant: str | None = None) -> list[ApiKey]:
        if tenant is None:
            rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY created_at, id")
        else:
            rows = self._read(f"SELECT {_KEY_COLS} FROM api_keys WHERE tenant = %s ORDER BY created_at, id", (tenant,))
        return [_row_key(r) for r in rows]

    def revoke_key(self, key_id: str, tenant: str | None = None) -> bool:
        """Revoke a key (of ``tenant`` only, when given); False if there is no such live key."""
        sql = "UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL"
        params: list[object] = [utcnow(), key_id]
        if tenant is not None:
            sql += " AND tenant = %s"
            params.append(tenant)
        with self._write("cannot revoke key") as conn:
            return conn.execute(sql, params).rowcount == 1

    def stored_keys(self, tenant: str) -> list[StoredKey]:
        rows = self._read(
            f"SELECT {_KEY_COLS}, hash FROM api_keys WHERE tenant = %s ORDER BY created_at, id", (tenant,)
        )
        return [StoredKey(_row_key(r), r[7]) for r in rows]

    def restore_key(self, stored: StoredKey) -> bool:
        k = stored.key
        with self._write("cannot restore key") as conn:
            cur = conn.execute(
                "INSERT INTO api_keys (id, tenant, hash, admin, label, created_at, revoked_at, user_id)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (k.id, k.tenant, stored.key_hash, k.admin, k.label, k.created_at, k.revoked_at, k.user_id),
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
        """A cheap check of the catalog: every table present, no schema step pending, the
        vector extension installed, no index left invalid (by a failed concurrent build)."""
        problems: list[str] = []
        with map_errors("integrity check failed"), self._pool.connection() as conn:
            for table in TABLES:
                found = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
                if found is None or found[0] is None:
                    problems.append(f"table {table} is missing")
            pending = migrations.pending(conn)
            if pending:
                problems.append(f"pending migrations: {', '.join(pending)}")
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
                problems.append("the vector extension is not installed")
            for (index,) in conn.execute(
                "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
                " WHERE NOT i.indisvalid AND c.relname = ANY(%s)",
                (list(TABLES),),
            ):
                problems.append(f"index {index} is invalid")
        return "\n".join(problems) or "ok"


def _unique_in_batch(events: Sequence[EventIn]) -> tuple[list[int], int]:
    """Positions of the batch's events whose (user, source_id) is not repeated earlier in
    the batch, and how many repeats were dropped."""
    seen: set[tuple[str, str]] = set()
    fresh: list[int] = []
    for i, ev in enumerate(events):
        if ev.source_id is not None:
            key = (ev.user_id, ev.source_id)
            if key in seen:
                continue
            seen.add(key)
        fresh.append(i)
    return fresh, len(events) - len(fresh)


def _insert_events(conn: Conn, tenant: str, events: Sequence[EventIn], now: Any) -> list[int | None]:
    """Insert in order (ids follow the batch); an event whose source id is stored comes
    back as None. One pipelined round trip for the whole batch."""
    if not events:
        return []
    cur = conn.cursor()
    cur.executemany(
        "INSERT INTO events (tenant, user_id, kind, role, text, payload, happened_at, ingested_at, session_id,"
        " source_id) VALUES (%s, %s, %s, %s, %s, %s::json, %s, %s, %s, %s)"
        " ON CONFLICT (tenant, user_id, source_id) WHERE source_id IS NOT NULL DO NOTHING RETURNING id",
        [
            (
                tenant,
                ev.user_id,
                ev.kind,
                ev.role,
                ev.text,
                payload_json(ev.payload),
                ev.time or now,
                now,
                ev.session_id,
                ev.source_id,
            )
            for ev in events
        ],
        returning=True,
    )
    ids: list[int | None] = []
    while True:
        row = cur.fetchone()
        ids.append(int(row[0]) if row else None)
        if not cur.nextset():
            break
    return ids


def _advance_heads(conn: Conn, tenant: str, stored: Sequence[tuple[str, int]], now: Any) -> None:
    """Count a batch's new events into their users' head rows. The per-user lock of
    ``add_events`` is held, so a batch's ids are the highest its users have."""
    heads: dict[str, tuple[int, int]] = {}
    for user, eid in stored:
        n, top = heads.get(user, (0, 0))
        heads[user] = (n + 1, max(top, eid))
    if heads:
        conn.cursor().executemany(
            "INSERT INTO user_heads (tenant, user_id, events, max_id, max_ingested_at) VALUES (%s, %s, %s, %s, %s)"
            " ON CONFLICT (tenant, user_id) DO UPDATE SET events = user_heads.events + excluded.events,"
            " max_id = excluded.max_id, max_ingested_at = excluded.max_ingested_at",
            [(tenant, user, n, top, now) for user, (n, top) in heads.items()],
        )


def _vec(v: np.ndarray) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


def _rollback(conn: Conn, savepoint: str | None = None) -> None:
    """Undo what this level wrote. After a failed COMMIT the server has already ended the
    transaction (then there is nothing to undo); on a broken connection the pool discards
    it, so an error here is not worth hiding the original one."""
    if conn.info.transaction_status not in (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR):
        return
    try:
        if savepoint is None:
            conn.execute("ROLLBACK")
        else:
            conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
            conn.execute(f"RELEASE SAVEPOINT {savepoint}")
    except psycopg.Error:
        pass


__all__ = ["PostgresStore"]
