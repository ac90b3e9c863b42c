"""Named migration steps: ordered, recorded, atomic, and listable without writing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tailored import MigrationError
from tailored.store.sqlite import SQLiteStore, migrations
from tailored.store.sqlite.migrations import Migrations


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


def test_an_old_file_keeps_its_rows_and_ids_through_the_autoincrement_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = SQLiteStore(path, migrate=False)
    migrations.apply(old._conn, stop_before="m006_ids_never_reused")
    old._conn.execute(
        "INSERT INTO events (id, tenant, user_id, kind, text, time_us, ingested_us) VALUES (7, 't', 'ana', 'message', 'hi', 1, 1)"
    )
    old._conn.execute("INSERT INTO vectors (event_id, model, vec) VALUES (7, 'm', x'00000000')")
    old.close()
    store = SQLiteStore(path)
    assert store._read("SELECT id, text FROM events") == [(7, "hi")]
    assert store._read("SELECT event_id FROM vectors") == [(7,)]  # not cascaded away by the rebuild
    assert store._read("PRAGMA foreign_key_check") == []
    assert store.integrity_check() == "ok"
    store.close()


def test_ids_are_never_handed_out_again_after_an_erase(db_path: Path) -> None:
    """Issue 13: an erased user's highest event id must not name the next user's event."""
    from tailored.store import Scope
    from tailored.types import EventIn

    store = SQLiteStore(db_path)
    first = store.add_events("t", [EventIn(user_id="ana", text="one"), EventIn(user_id="ana", text="two")]).added
    store.erase_user(Scope("t", "ana"))
    again = store.add_events("t", [EventIn(user_id="bo", text="three")]).added
    assert min(again) > max(first)
    store.close()
