"""The sensitive-category tables of the SQLite store: a user's switched-off categories and
the audit log of their sensitive items' uses.

A mixin of ``SQLiteStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. The erase of a user deletes both (``erase_sensitive``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...types import SensitiveUse
from ..base import Scope, use_from_row, use_params
from .codec import dt, us

Row = tuple[Any, ...]


def erase_sensitive(conn: sqlite3.Connection, scope: Scope) -> None:
    """Delete the user's settings and log, on the erase's own connection."""
    for table in ("sensitive_settings", "sensitive_uses"):
        conn.execute(f"DELETE FROM {table} WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))


class SensitiveTables:
    """Mixed into ``SQLiteStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def sensitive_off(self, scope: Scope) -> list[str]:
        rows = self._read(
            "SELECT off FROM sensitive_settings WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id)
        )
        return sorted(c for c in rows[0][0].split(",") if c) if rows else []

    def set_sensitive_off(self, scope: Scope, categories: Sequence[str], *, at: datetime) -> None:
        off = ",".join(sorted(set(categories)))
        with self._write("cannot store the sensitive-category settings, they are unchanged") as conn:
            if not off:
                conn.execute(
                    "DELETE FROM sensitive_settings WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id)
                )
                return
            conn.execute(
                "INSERT INTO sensitive_settings (tenant, user_id, off, updated_us) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant, user_id) DO UPDATE SET off = excluded.off, updated_us = excluded.updated_us",
                (scope.tenant, scope.user_id, off, us(at)),
            )

    def log_sensitive_uses(self, scope: Scope, uses: Sequence[SensitiveUse]) -> None:
        if not uses:
            return
        with self._write("cannot record the uses of sensitive items") as conn:
            conn.executemany(
                "INSERT INTO sensitive_uses (tenant, user_id, at_us, purpose, source, item_id, categories, query)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [use_params(scope, u, us(u.at)) for u in uses],
            )

    def sensitive_uses(self, scope: Scope, *, limit: int = 100, after_id: int = 0) -> list[SensitiveUse]:
        rows = self._read(
            "SELECT id, at_us, purpose, source, item_id, categories, query FROM sensitive_uses"
            " WHERE tenant = ? AND user_id = ? AND id > ? ORDER BY id LIMIT ?",
            (scope.tenant, scope.user_id, after_id, limit),
        )
        return [use_from_row(r, dt(r[1])) for r in rows]
