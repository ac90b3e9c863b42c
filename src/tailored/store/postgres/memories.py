"""The memory tables of the PostgreSQL store: memories, their evidence and history,
summaries, and extraction marks.

A mixin of ``PostgresStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. Every query names tenant and user; column names stay here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...types import Memory, MemoryChange, MemoryStatus, Summary
from ..base import ChangeAction, ClosedStatus, NewMemory, Scope
from .migrations import Conn
from .webhooks import announce_change

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

_MEM_COLS = (
    "id, tenant, user_id, kind, key, value, polarity, strength, confidence, multi, text, source, status,"
    " pinned, valid_from, valid_to, superseded_by, created_at, updated_at"
)
_MINE = "tenant = %s AND user_id = %s"


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
        multi=r[9],
        text=r[10],
        source=r[11],
        status=r[12],
        pinned=r[13],
        valid_from=r[14],
        valid_to=r[15],
        superseded_by=r[16],
        evidence=evidence,
        created_at=r[17],
        updated_at=r[18],
    )


class MemoryTables:
    """Mixed into ``PostgresStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Params = (), *, binary: bool = False) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def _to_memories(self, scope: Scope, rows: list[Row]) -> list[Memory]:
        evidence: dict[int, list[int]] = {r[0]: [] for r in rows}
        if rows:
            links = self._read(
                f"SELECT memory_id, event_id FROM memory_evidence WHERE {_MINE} AND memory_id = ANY(%s)"
                " ORDER BY memory_id, event_id",
                (scope.tenant, scope.user_id, list(evidence)),
            )
            for mid, eid in links:
                evidence[mid].append(eid)
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
        sql = f"SELECT {_MEM_COLS} FROM memories WHERE {_MINE}"
        params: list[object] = [scope.tenant, scope.user_id]
        if kind is not None:
            sql += " AND kind = %s"
            params.append(kind)
        if key is not None:
            sql += " AND key = %s"
            params.append(key)
        if statuses is not None:
            sql += " AND status = ANY(%s)"
            params.append(list(statuses))
        if as_of is not None:
            sql += " AND valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"
            params.extend([as_of, as_of])
        return self._to_memories(scope, self._read(sql + " ORDER BY valid_from, id", params))

    def memory(self, scope: Scope, memory_id: int) -> Memory | None:
        rows = self._read(
            f"SELECT {_MEM_COLS} FROM memories WHERE {_MINE} AND id = %s", (scope.tenant, scope.user_id, memory_id)
        )
        return self._to_memories(scope, rows)[0] if rows else None

    def add_memory(self, scope: Scope, item: NewMemory) -> int:
        with self._write("cannot store the memory") as conn:
            row = conn.execute(
                "INSERT INTO memories (tenant, user_id, kind, key, value, polarity, strength, confidence, multi,"
                " text, source, status, pinned, valid_from, valid_to, superseded_by, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    scope.tenant,
                    scope.user_id,
                    item.kind,
                    item.key,
                    item.value,
                    item.polarity,
                    item.strength,
                    item.confidence,
                    item.multi,
                    item.text,
                    item.source,
                    item.status,
                    item.pinned,
                    item.valid_from,
                    item.valid_to,
                    item.superseded_by,
                    item.created_at,
                    item.updated_at or item.created_at,
                ),
            ).fetchone()
            assert row is not None  # INSERT ... RETURNING of one row
            mid = int(row[0])
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
                f"UPDATE memories SET status = %s, valid_to = %s, superseded_by = %s, updated_at = %s"
                f" WHERE {_MINE} AND id = %s",
                (status, valid_to, by, at, scope.tenant, scope.user_id, memory_id),
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
                "UPDATE memories SET confidence = %s, strength = %s, updated_at = %s,"
                f" valid_from = coalesce(%s, valid_from) WHERE {_MINE} AND id = %s",
                (confidence, strength, at, valid_from, scope.tenant, scope.user_id, memory_id),
            )
            _link(conn, scope, memory_id, evidence)

    def link_evidence(self, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None:
        with self._write("cannot link evidence") as conn:
            _link(conn, scope, memory_id, evidence)

    def set_pinned(self, scope: Scope, memory_id: int, pinned: bool, *, at: datetime) -> None:
        with self._write("cannot update the memory") as conn:
            conn.execute(
                f"UPDATE memories SET pinned = %s, updated_at = %s WHERE {_MINE} AND id = %s",
                (pinned, at, scope.tenant, scope.user_id, memory_id),
            )

    def set_superseded_by(self, scope: Scope, memory_id: int, by: int) -> None:
        with self._write("cannot update the memory") as conn:
            conn.execute(
                f"UPDATE memories SET superseded_by = %s WHERE {_MINE} AND id = %s",
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
                "INSERT INTO memory_log (tenant, user_id, memory_id, at, action, detail, other_id)"
                f" SELECT tenant, user_id, id, %s, %s, %s, %s FROM memories WHERE {_MINE} AND id = %s",
                (at, action, detail, other_id, scope.tenant, scope.user_id, memory_id),
            )
            if cur.rowcount == 1:  # every change is logged here: its webhook event commits with it
                announce_change(
                    conn, scope, lambda: self.memory(scope, memory_id), action, at=at, detail=detail, other_id=other_id
                )

    def memory_log(self, scope: Scope, memory_id: int | None = None) -> list[MemoryChange]:
        sql = f"SELECT memory_id, at, action, detail, other_id FROM memory_log WHERE {_MINE}"
        params: list[object] = [scope.tenant, scope.user_id]
        if memory_id is not None:
            sql += " AND memory_id = %s"
            params.append(memory_id)
        rows = self._read(sql + " ORDER BY id", params)
        return [MemoryChange(memory_id=r[0], at=r[1], action=r[2], detail=r[3], other_id=r[4]) for r in rows]

    # -- extraction progress ------------------------------------------------------------

    def extraction_mark(self, scope: Scope, extractor: str) -> int:
        rows = self._read(
            f"SELECT last_event_id FROM extraction_marks WHERE {_MINE} AND extractor = %s",
            (scope.tenant, scope.user_id, extractor),
        )
        return int(rows[0][0]) if rows else 0

    def advance_mark(self, scope: Scope, extractor: str, *, expected: int, new: int) -> bool:
        """Compare-and-set in one statement each way, atomic across processes: the UPDATE
        re-checks ``last_event_id = expected`` on the newest row version after waiting for
        a concurrent writer's row lock (READ COMMITTED), and an INSERT of a first mark
        waits for a concurrent insert of the same key and then does nothing. The row lock
        is held until the caller's transaction ends, so a second run waits, then fails."""
        owner = (scope.tenant, scope.user_id, extractor)
        with self._write("cannot advance the extraction mark") as conn:
            moved = conn.execute(
                f"UPDATE extraction_marks SET last_event_id = %s WHERE {_MINE} AND extractor = %s"
                " AND last_event_id = %s",
                (new, *owner, expected),
            ).rowcount
            if moved or expected != 0:
                return moved == 1
            created = conn.execute(
                "INSERT INTO extraction_marks (tenant, user_id, extractor, last_event_id) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, user_id, extractor) DO NOTHING",
                (*owner, new),
            ).rowcount
        return created == 1

    # -- summaries ----------------------------------------------------------------------

    def add_summary(
        self, scope: Scope, task: str, text: str, covers_to_event: int, events_covered: int, at: datetime
    ) -> Summary:
        with self._write("cannot store the summary") as conn:
            row = conn.execute(
                "INSERT INTO summaries (tenant, user_id, task, text, covers_to_event, events_covered, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (scope.tenant, scope.user_id, task, text, covers_to_event, events_covered, at),
            ).fetchone()
        assert row is not None  # INSERT ... RETURNING of one row
        return Summary(
            id=int(row[0]),
            user_id=scope.user_id,
            task=task,
            text=text,
            covers_to_event=covers_to_event,
            events_covered=events_covered,
            created_at=at,
        )

    def summaries(self, scope: Scope, task: str | None = None, latest: bool = True) -> list[Summary]:
        sql = (
            f"SELECT id, user_id, task, text, covers_to_event, events_covered, created_at FROM summaries WHERE {_MINE}"
        )
        params: list[object] = [scope.tenant, scope.user_id]
        if task is not None:
            sql += " AND task = %s"
            params.append(task)
        if latest:
            sql += f" AND id IN (SELECT max(id) FROM summaries WHERE {_MINE} GROUP BY task)"
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
                created_at=r[6],
            )
            for r in rows
        ]


def _link(conn: Conn, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None:
    """Link evidence events: only events of the same user, joined here (and refused by the
    composite foreign key besides); a stray id is ignored, never linked."""
    if not evidence:
        return
    conn.execute(
        "INSERT INTO memory_evidence (tenant, user_id, memory_id, event_id)"
        " SELECT m.tenant, m.user_id, m.id, e.id FROM memories m"
        " JOIN events e ON e.tenant = m.tenant AND e.user_id = m.user_id AND e.id = ANY(%s)"
        " WHERE m.tenant = %s AND m.user_id = %s AND m.id = %s ON CONFLICT DO NOTHING",
        (sorted({int(e) for e in evidence}), scope.tenant, scope.user_id, memory_id),
    )
