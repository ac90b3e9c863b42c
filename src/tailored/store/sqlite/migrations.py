"""Named, ordered schema steps.

Each step is a plain function that runs inside one transaction together with the row that
records it, so a failing step leaves nothing behind. Listing pending steps never writes.
"""

from __future__ import annotations

import sqlite3

from ...errors import MigrationError
from ..steps import NamedSteps


class Migrations(NamedSteps[sqlite3.Connection]):
    def applied(self, conn: sqlite3.Connection) -> set[str]:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
        if not exists:
            return set()
        rows = conn.execute("SELECT name FROM _migrations WHERE migration_set = ?", (self.name,))
        return {r[0] for r in rows}

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        return self.not_in(self.applied(conn))

    def apply(self, conn: sqlite3.Connection, stop_before: str | None = None) -> list[str]:
        """Run every pending step (each in its own transaction); returns the names run."""
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations ("
            " migration_set TEXT NOT NULL, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
            " PRIMARY KEY (migration_set, name))"
        )
        ran: list[str] = []
        done = self.applied(conn)
        for name, step in self.steps:
            if name == stop_before:
                break
            if name in done:
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")
                step(conn)
                conn.execute("INSERT INTO _migrations (migration_set, name) VALUES (?, ?)", (self.name, name))
                conn.execute("COMMIT")
            except Exception as exc:
                conn.execute("ROLLBACK")
                raise MigrationError(f"migration step {name!r} failed: {exc}") from exc
            ran.append(name)
        return ran
