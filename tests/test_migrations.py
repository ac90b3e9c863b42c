"""Named migration steps: ordered, recorded, atomic, and listable without writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tailored import MigrationError
from tailored.store.migrations import Migrations
from tailored.store.sqlite import SQLiteStore, migrations


def test_fresh_store_has_every_step_recorded(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    assert migrations.pending(store._conn) == []
    names = [r[0] for r in store._read("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [name for name, _ in migrations.steps]
    assert store._read("PRAGMA journal_mode")[0][0] == "wal"
    store.close()


def test_pending_lists_without_writing(db_path: Path) -> None:
    store = SQLiteStore(db_path, migrate=False)
    assert migrations.pending(store._conn) == [name for name, _ in migrations.steps]
    assert store._read("SELECT name FROM sqlite_master") == []
    store.close()


def test_upgrade_from_an_older_schema_matches_a_fresh_install(tmp_path: Path) -> None:
    old = SQLiteStore(tmp_path / "old.db", migrate=False)
    first = migrations.steps[0][0]
    migrations.apply(old._conn, stop_before=migrations.steps[1][0])
    assert migrations.pending(old._conn) == [n for n, _ in migrations.steps if n != first]
    old.close()
    upgraded = SQLiteStore(tmp_path / "old.db")
    fresh = SQLiteStore(tmp_path / "fresh.db")
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
    assert upgraded._read(schema) == fresh._read(schema)
    upgraded.close()
    fresh.close()


def test_a_failing_step_leaves_nothing_behind(tmp_path: Path) -> None:
    m = Migrations("demo")

    @m
    def create_things(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE things (id INTEGER)")

    @m
    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (id INTEGER)")
        conn.execute("THIS IS NOT SQL")

    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    with pytest.raises(MigrationError, match="broken"):
        m.apply(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "things" in tables and "half" not in tables
    assert m.pending(conn) == ["broken"]
    conn.close()


def test_duplicate_step_names_are_rejected() -> None:
    m = Migrations("dup")

    def step(conn: sqlite3.Connection) -> None: ...

    m(step)
    with pytest.raises(ValueError, match="duplicate"):
        m(step)


def test_db_commands_do_not_create_a_missing_store(tmp_path: Path) -> None:
    import subprocess
    import sys

    missing = tmp_path / "nope.db"
    out = subprocess.run(
        [sys.executable, "-m", "tailored", "db", "check", "--db", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "no store at" in out.stderr and not missing.exists()
