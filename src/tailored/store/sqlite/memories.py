"""The memory tables of the SQLite store: memories, their evidence and history, summaries,
and extraction marks.

A mixin of ``SQLiteStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. Every query is scoped by tenant and user; column names and the
integer-microsecond times stay in this package.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...types import Memory, MemoryChange, MemoryStatus, Summary
from ..base import ChangeAction, ClosedStatus, NewMemory, Scope
from .codec import dt, us
from .webhooks import announce_change

Row = tuple[Any, ...]

_MEM_COLS = (
    "id, tenant, user_id, kind, key, value, polarity, strength, confidence, multi, text, source, status,"
    " pinned, valid_from_us, valid_to_us, superseded_by, created_us, updated_us"
)


def _row_memory(r: Row, evidence: list[int]) -> Memory:
    return Memory(
        id=r[0],
        tenant=r[1],
        user_id=r[2],
        kind=r[3],
        key=r[4],
        value=r[5],
        polarity=r[6],
        strength=r[7],
        confidence=r[8],
        multi=bool(r[9]),
        text=r[10],
        source=r[11],
        status=r[12],
        pinned=bool(r[13]),
        valid_from=dt(r[14]),
        valid_to=dt(r[15]) if r[15] is not None else None,
        superseded_by=r[16],
        evidence=evidence,
        created_at=dt(r[17]),
        updated_at=dt(r[18]),
    )


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


class MemoryTables:
    """Mixed into ``SQLiteStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _evidence_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in _chunks(ids):
            rows = self._read(
                "SELECT memory_id, event_id FROM memory_evidence"
                f" WHERE memory_id IN ({','.join('?' * len(chunk))}) ORDER BY event_id",
                list(chunk),
            )
            for mid, eid in rows:
                out[mid].append(eid)
        return out

    def _to_memories(self, rows: list[Row]) -> list[Memory]:
        evidence = self._evidence_of([r[0] for r in rows])
        return [_row_memory(r, evidence[r[0]]) for r in rows]

    def memories(
        self,
        scope: Scope,
        *,
        kind: str | None = None,
        key: str | None = None,
        statuses: Sequence[MemoryStatus] | None = None,
        as_of: datetime | None = None,
    ) -> list[Memory]:
        sql = f"SELECT {_MEM_COLS} FROM memories WHERE tenant = ? AND user_id = ?"
        params: list[object] = [scope.tenant, scope.user_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        if statuses is not None:
            wanted = list(statuses)
            sql += f" AND status IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        if as_of is not None:
            sql += " AND valid_from_us <= ? AND (valid_to_us IS NULL OR valid_to_us > ?)"
            params.extend([us(as_of), us(as_of)])
        sql += " ORDER BY valid_from_us, id"
        return self._to_memories(self._read(sql, params))

    def memory(self, scope: Scope, memory_id: int) -> Memory | None:
        rows = self._read(
            f"SELECT {_MEM_COLS} FROM memories WHERE tenant = ? AND user_id = ? AND id = ?",
            (scope.tenant, scope.user_id, memory_id),
        )
        return self._to_memories(rows)[0] if rows else None

    def add_memory(self, scope: Scope, item: NewMemory) -> int:
        with self._write("cannot store the memory") as conn:
            cur = conn.execute(
                "INSERT INTO memories (tenant, user_id, kind, key, value, polarity, strength, confidence, multi,"
                " text, source, status, pinned, valid_from_us, valid_to_us, superseded_by, created_us, updated_us)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    scope.tenant,
                    scope.user_id,
                    item.kind,
                    item.key,
                    item.value,
                    item.polarity,
                    item.strength,
                    item.confidence,
                    int(item.multi),
                    item.text,
                    item.source,
                    item.status,
                    int(item.pinned),
                    us(item.valid_from),
                    us(item.valid_to) if item.valid_to else None,
                    item.superseded_by,
                    us(item.created_at),
                    us(item.updated_at or item.created_at),
                ),
            )
            mid = int(cur.lastrowid or 0)
            _link(conn, scope, mid, item.evidence)
        return mid

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
        with self._write("cannot update the memory") as conn:
            conn.execute(
                "UPDATE memories SET status = ?, valid_to_us = ?, superseded_by = ?, updated_us = ?"
                " WHERE tenant = ? AND user_id = ? AND id = ?",
                (status, us(valid_to), by, us(at), scope.tenant, scope.user_id, memory_id),
            )

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
        with self._write("cannot update the memory") as conn:
            conn.execute(
                "UPDATE memories SET confidence = ?, strength = ?, updated_us = ?,"
                " valid_from_us = coalesce(?, valid_from_us) WHERE tenant = ? AND user_id = ? AND id = ?",
                (
                    confidence,
                    strength,
                    us(at),
                    us(valid_from) if valid_from else None,
                    scope.tenant,
                    scope.user_id,
                    memory_id,
                ),
            )
            _link(conn, scope, memory_id, evidence)

    def link_evidence(self, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None:
        with self._write("cannot link evidence") as conn:
            _link(conn, scope, memory_id, evidence)

    def set_pinned(self, scope: Scope, memory_id: int, pinned: bool, *, at: datetime) -> None:
        with self._write("cannot update the memory") as conn:
            conn.execute(
                "UPDATE memories SET pinned = ?, updated_us = ? WHERE tenant = ? AND user_id = ? AND id = ?",
                (int(pinned), us(at), scope.tenant, scope.user_id, memory_id),
            )

    def set_superseded_by(self, scope: Scope, memory_id: int, by: int) -> None:
        with self._write("cannot update the memory") as conn:
            conn.execute(
                "UPDATE memories SET superseded_by = ? WHERE tenant = ? AND user_id = ? AND id = ?",
                (by, scope.tenant, scope.user_id, memory_id),
            )

    def log_change(
        self,
        scope: Scope,
        memory_id: int,
        action: ChangeAction,
        *,
        at: datetime,
        detail: str = "",
        other_id: int | None = None,
    ) -> None:
        with self._write("cannot log the change") as conn:
            # Only a memory of this scope gets a log row: a stray id is ignored, never linked.
            cur = conn.execute(
                "INSERT INTO memory_log (memory_id, at_us, action, detail, other_id)"
                " SELECT id, ?, ?, ?, ? FROM memories WHERE tenant = ? AND user_id = ? AND id = ?",
                (us(at), action, detail, other_id, scope.tenant, scope.user_id, memory_id),
            )
            if cur.rowcount == 1:  # every change is logged here: its webhook event commits with it
                announce_change(
                    conn, scope, lambda: self.memory(scope, memory_id), action, at=at, detail=detail, other_id=other_id
                )

    def memory_log(self, scope: Scope, memory_id: int | None = None) -> list[MemoryChange]:
        sql = (
            "SELECT l.memory_id, l.at_us, l.action, l.detail, l.other_id FROM memory_log l"
            " JOIN memories m ON m.id = l.memory_id WHERE m.tenant = ? AND m.user_id = ?"
        )
        params: list[object] = [scope.tenant, scope.user_id]
        if memory_id is not None:
            sql += " AND l.memory_id = ?"
            params.append(memory_id)
        rows = self._read(sql + " ORDER BY l.id", params)
        return [MemoryChange(memory_id=r[0], at=dt(r[1]), action=r[2], detail=r[3], other_id=r[4]) for r in rows]

    # -- extraction progress ------------------------------------------------------------

    def extraction_mark(self, scope: Scope, extractor: str) -> int:
        rows = self._read(
            "SELECT last_event_id FROM extraction_marks WHERE tenant = ? AND user_id = ? AND extractor = ?",
            (scope.tenant, scope.user_id, extractor),
        )
        return int(rows[0][0]) if rows else 0

    def advance_mark(self, scope: Scope, extractor: str, *, expected: int, new: int) -> bool:
        # BEGIN IMMEDIATE holds the file's write lock, so this read-then-write is atomic
        # against other threads and other processes alike.
        with self._write("cannot advance the extraction mark") as conn:
            row = conn.execute(
                "SELECT last_event_id FROM extraction_marks WHERE tenant = ? AND user_id = ? AND extractor = ?",
                (scope.tenant, scope.user_id, extractor),
            ).fetchone()
            if (int(row[0]) if row else 0) != expected:
                return False
            conn.execute(
                "INSERT INTO extraction_marks (tenant, user_id, extractor, last_event_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, user_id, extractor) DO UPDATE SET last_event_id = excluded.last_event_id",
                (scope.tenant, scope.user_id, extractor, new),
            )
        return True

    # -- summaries ----------------------------------------------------------------------

    def add_summary(
        self, scope: Scope, task: str, text: str, covers_to_event: int, events_covered: int, at: datetime
    ) -> Summary:
        with self._write("cannot store the summary") as conn:
            cur = conn.execute(
                "INSERT INTO summaries (tenant, user_id, task, text, covers_to_event, events_covered, created_us)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (scope.tenant, scope.user_id, task, text, covers_to_event, events_covered, us(at)),
            )
        return Summary(
            id=int(cur.lastrowid or 0),
            user_id=scope.user_id,
            task=task,
            text=text,
            covers_to_event=covers_to_event,
            events_covered=events_covered,
            created_at=at,
        )

    def summaries(self, scope: Scope, task: str | None = None, latest: bool = True) -> list[Summary]:
        sql = (
            "SELECT id, user_id, task, text, covers_to_event, events_covered, created_us FROM summaries"
            " WHERE tenant = ? AND user_id = ?"
        )
        params: list[object] = [scope.tenant, scope.user_id]
        if task is not None:
            sql += " AND task = ?"
            params.append(task)
        if latest:
            sql += " AND id IN (SELECT max(id) FROM summaries WHERE tenant = ? AND user_id = ? GROUP BY task)"
            params.extend([scope.tenant, scope.user_id])
        rows = self._read(sql + " ORDER BY id", params)
        return [
            Summary(
                id=r[0],
                user_id=r[1],
                task=r[2],
                text=r[3],
                covers_to_event=r[4],
                events_covered=r[5],
                created_at=dt(r[6]),
            )
            for r in rows
        ]


def _link(conn: sqlite3.Connection, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None:
    """Link evidence events; only events of the same user can be evidence."""
    if not evidence:
        return
    ids = sorted({int(e) for e in evidence})
    owned = {
        r[0]
        for r in conn.execute(
            f"SELECT id FROM events WHERE tenant = ? AND user_id = ? AND id IN ({','.join('?' * len(ids))})",
            [scope.tenant, scope.user_id, *ids],
        )
    }
    conn.executemany(
        "INSERT OR IGNORE INTO memory_evidence (memory_id, event_id) SELECT id, ? FROM memories"
        " WHERE tenant = ? AND user_id = ? AND id = ?",
        [(e, scope.tenant, scope.user_id, memory_id) for e in ids if e in owned],
    )


def erase_memories(conn: sqlite3.Connection, scope: Scope) -> None:
    """Called inside ``erase_user``'s transaction."""
    ids = [
        (r[0],)
        for r in conn.execute("SELECT id FROM memories WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
    ]
    conn.executemany("DELETE FROM memory_log WHERE memory_id = ?", ids)
    conn.executemany("DELETE FROM memory_evidence WHERE memory_id = ?", ids)
    for table in ("memories", "summaries", "extraction_marks"):
        conn.execute(f"DELETE FROM {table} WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
