"""Named, ordered schema steps for PostgreSQL (the same model as the SQLite backend's).

Each step runs inside one transaction together with the ``_migrations`` row that records
it, so a failing step leaves nothing behind (PostgreSQL's DDL is transactional). Each step
first takes an advisory lock and re-reads what is applied, so two processes opening a fresh
database at once run every step exactly once. Listing pending steps never writes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from ...errors import MigrationError
from ..steps import NamedSteps

Conn = psycopg.Connection[tuple[Any, ...]]
Step = Callable[[Conn], None]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('tailored.migrations', 0))"


class Migrations(NamedSteps[Conn]):
    def applied(self, conn: Conn) -> set[str]:
        row = conn.execute("SELECT to_regclass('_migrations')").fetchone()
        if row is None or row[0] is None:
            return set()
        rows = conn.execute("SELECT name FROM _migrations WHERE migration_set = %s", (self.name,))
        return {r[0] for r in rows}

    def pending(self, conn: Conn) -> list[str]:
        return self.not_in(self.applied(conn))

    def apply(self, conn: Conn, stop_before: str | None = None) -> list[str]:
        """Run every pending step, each in its own transaction; returns the names run.
        ``conn`` is in autocommit mode (each ``conn.transaction()`` is one BEGIN/COMMIT).
        A migrated database is only read: a role without CREATE privilege can open it."""
        if not self.pending(conn):
            return []
        with conn.transaction():
            conn.execute(_LOCK)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations ("
                " migration_set text NOT NULL, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (migration_set, name))"
            )
        ran: list[str] = []
        for name, step in self.steps:
            if name == stop_before:
                break
            try:
                if self._apply_one(conn, name, step):
                    ran.append(name)
            except psycopg.Error as exc:
                raise MigrationError(f"migration step {name!r} failed: {exc}") from exc
        return ran

    def _apply_one(self, conn: Conn, name: str, step: Step) -> bool:
        """Run ``step`` unless it is applied (by another process meanwhile, too)."""
        with conn.transaction():
            conn.execute(_LOCK)
            if name in self.applied(conn):
                return False
            step(conn)
            conn.execute("INSERT INTO _migrations (migration_set, name) VALUES (%s, %s)", (self.name, name))
        return True
