"""The sensitive-category tables of the PostgreSQL store: a user's switched-off categories
and the audit log of their sensitive items' uses.

A mixin of ``PostgresStore`` (it uses its ``_read`` and ``_write``), kept apart so that each
file stays about one thing. Both tables are in ``USER_TABLES``: an erase deletes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...types import SensitiveUse
from ..base import Scope, use_from_row, use_params
from .migrations import Conn

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]


class SensitiveTables:
    """Mixed into ``PostgresStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Params = (), *, binary: bool = False) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def sensitive_off(self, scope: Scope) -> list[str]:
        rows = self._read(
            "SELECT off FROM sensitive_settings WHERE tenant = %s AND user_id = %s", (scope.tenant, scope.user_id)
        )
        return sorted(c for c in rows[0][0].split(",") if c) if rows else []

    def set_sensitive_off(self, scope: Scope, categories: Sequence[str], *, at: datetime) -> None:
        off = ",".join(sorted(set(categories)))
        with self._write("cannot store the sensitive-category settings, they are unchanged") as conn:
            if not off:
                conn.execute(
                    "DELETE FROM sensitive_settings WHERE tenant = %s AND user_id = %s", (scope.tenant, scope.user_id)
                )
                return
            conn.execute(
                "INSERT INTO sensitive_settings (tenant, user_id, off, updated_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant, user_id) DO UPDATE SET off = excluded.off, updated_at = excluded.updated_at",
                (scope.tenant, scope.user_id, off, at),
            )

    def log_sensitive_uses(self, scope: Scope, uses: Sequence[SensitiveUse]) -> None:
        if not uses:
            return
        with self._write("cannot record the uses of sensitive items") as conn:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO sensitive_uses (tenant, user_id, at, purpose, source, item_id, categories, query)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    [use_params(scope, u, u.at) for u in uses],
                )

    def sensitive_uses(self, scope: Scope, *, limit: int = 100, after_id: int = 0) -> list[SensitiveUse]:
        rows = self._read(
            "SELECT id, at, purpose, source, item_id, categories, query FROM sensitive_uses"
            " WHERE tenant = %s AND user_id = %s AND id > %s ORDER BY id LIMIT %s",
            (scope.tenant, scope.user_id, after_id, limit),
        )
        return [use_from_row(r, r[1]) for r in rows]
