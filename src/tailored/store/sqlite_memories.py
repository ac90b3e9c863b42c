"""The memory tables of the SQLite store: memories, their evidence and history, summaries.

A mixin of ``SQLiteStore`` (it uses its connection, lock and ``atomic``), kept apart so
that each file stays about one thing. Every query is scoped by tenant and user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from ..types import Memory, MemoryChange, Summary
from .base import Scope

_MEM_COLS = (
    "id, tenant, user_id, kind, key, value, polarity, strength, confidence, multi, text, source, status,"
    " pinned, valid_from_us, valid_to_us, superseded_by, created_us, updated_us"
)
_UPDATABLE = {
    "value",
    "polarity",
    "strength",
    "confidence",
    "text",
    "status",
    "pinned",
    "valid_from_us",
    "valid_to_us",
    "superseded_by",
    "updated_us",
}


def us(t: datetime) -> int:
    return int(t.timestamp() * 1_000_000)


def dt(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


class MemoryTables:
    """Mixed into ``SQLiteStore``; relies on its ``_read`` and ``atomic``."""

    _read: Any
    atomic: Any

    def _evidence_of(self, ids: Sequence[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._read(
                f"SELECT memory_id, event_id FROM memory_evidence WHERE memory_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY event_id",
                list(chunk),
            )
            for mid, eid in rows:
                out[mid].append(eid)
        return out

    def _to_memories(self, rows: list[tuple]) -> list[Memory]:  # type: ignore[type-arg]
        evidence = self._evidence_of([r[0] for r in rows])
        return [
            Memory(
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
                evidence=evidence[r[0]],
                created_at=dt(r[17]),
                updated_at=dt(r[18]),
            )
            for r in rows
        ]

    def memories(
        self,
        scope: Scope,
        *,
        kind: str | None = None,
        key: str | None = None,
        statuses: Iterable[str] | None = None,
        as_of: datetime | None = None,
    ) -> list[Memory]:
        """The user's memories, oldest first; ``as_of`` keeps those valid at that time."""
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

    def insert_memory(self, scope: Scope, fields: dict[str, Any], evidence: Sequence[int]) -> int:
        cols = ["tenant", "user_id", *fields]
        with self.atomic() as conn:
            cur = conn.execute(
                f"INSERT INTO memories ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                [scope.tenant, scope.user_id, *fields.values()],
            )
            mid = int(cur.lastrowid or 0)
            self._link(conn, scope, mid, evidence)
        return mid

    def _link(self, conn: Any, scope: Scope, memory_id: int, evidence: Sequence[int]) -> None:
        """Link evidence events; only events of the same user can be evidence."""
        if not evidence:
            return
        ids = sorted(set(int(e) for e in evidence))
        owned = {
            r[0]
            for r in conn.execute(
                f"SELECT id FROM events WHERE tenant = ? AND user_id = ? AND id IN ({','.join('?' * len(ids))})",
                [scope.tenant, scope.user_id, *ids],
            )
        }
        conn.executemany(
            "INSERT OR IGNORE INTO memory_evidence (memory_id, event_id) VALUES (?, ?)",
            [(memory_id, e) for e in ids if e in owned],
        )

    def update_memory(self, scope: Scope, memory_id: int, fields: dict[str, Any], evidence: Sequence[int] = ()) -> None:
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        with self.atomic() as conn:
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                conn.execute(
                    f"UPDATE memories SET {sets} WHERE tenant = ? AND user_id = ? AND id = ?",
                    [*fields.values(), scope.tenant, scope.user_id, memory_id],
                )
            self._link(conn, scope, memory_id, evidence)

    def log_memory(
        self, memory_id: int, at: datetime, action: str, detail: str = "", other_id: int | None = None
    ) -> None:
        with self.atomic() as conn:
            conn.execute(
                "INSERT INTO memory_log (memory_id, at_us, action, detail, other_id) VALUES (?, ?, ?, ?, ?)",
                (memory_id, us(at), action, detail, other_id),
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

    def set_extraction_mark(self, scope: Scope, extractor: str, last_event_id: int) -> None:
        with self.atomic() as conn:
            conn.execute(
                "INSERT INTO extraction_marks (tenant, user_id, extractor, last_event_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, user_id, extractor) DO UPDATE SET last_event_id = excluded.last_event_id",
                (scope.tenant, scope.user_id, extractor, last_event_id),
            )

    # -- summaries ----------------------------------------------------------------------

    def add_summary(
        self, scope: Scope, task: str, text: str, covers_to_event: int, events_covered: int, at: datetime
    ) -> Summary:
        with self.atomic() as conn:
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
        """Summaries of the user (the latest per task when ``latest``), oldest first."""
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

    def _erase_memories(self, conn: Any, scope: Scope) -> None:
        """Called inside ``erase_user``'s transaction."""
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM memories WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id)
            )
        ]
        conn.executemany("DELETE FROM memory_log WHERE memory_id = ?", [(i,) for i in ids])
        conn.executemany("DELETE FROM memory_evidence WHERE memory_id = ?", [(i,) for i in ids])
        conn.execute("DELETE FROM memories WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
        conn.execute("DELETE FROM summaries WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
        conn.execute("DELETE FROM extraction_marks WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
