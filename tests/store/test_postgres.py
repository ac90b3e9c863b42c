"""What the PostgreSQL backend guarantees beyond the conformance suite: failed commits,
range errors, ids across an erase, per-user id order under concurrent writers, the schema
steps on an empty database, and that the erase test reads bytes that did hold the data.

Runs on the session's throwaway server (``conftest.postgres_server``); skips without the
``postgres`` extra.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from tailored.errors import InvalidInput, StoreError
from tailored.store import Scope, Store, open_store
from tailored.types import EventIn

from .conftest import PostgresServer

ANA = Scope("t1", "ana")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ev(user: str, text: str) -> EventIn:
    return EventIn(user_id=user, text=text)


@pytest.fixture
def pg(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[Store]:
    s = open_store(postgres_server.url(tmp_path, "conformance"))
    yield s
    s.close()


def test_the_erase_check_reads_files_that_held_the_text_before(
    pg: Store, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    marker = "wombatkilimanjaro"
    pg.add_events("t1", [EventIn(user_id="ana", text=f"secret {marker}", payload={"n": marker})])
    pg.add_events("t1", [ev("bo", "bo stays")])
    assert marker.encode() in postgres_server.raw_bytes(tmp_path)  # so its absence below means something
    pg.erase_user(ANA)
    assert marker.encode() not in postgres_server.raw_bytes(tmp_path)


def test_a_commit_that_fails_rolls_back_and_the_store_goes_on(pg: Store) -> None:
    write = getattr(pg, "_write")  # noqa: B009 (the backend's own transaction, to make COMMIT fail)
    with pytest.raises(StoreError, match="duplicate key"), write() as conn:
        conn.execute("CREATE TEMP TABLE once (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)")
        conn.execute("INSERT INTO once VALUES (1), (1)")  # the violation surfaces at COMMIT
        pg.add_events("t1", [ev("ana", "lost")])
    assert pg.list_events(ANA) == []
    assert len(pg.add_events("t1", [ev("ana", "kept")]).added) == 1


def test_a_number_out_of_range_is_invalid_input_and_nothing_is_stored(pg: Store) -> None:
    with pytest.raises(InvalidInput):
        pg.add_summary(ANA, "general", "too far", 2**63, 1, T0)
    with pytest.raises(InvalidInput), pg.transaction():
        pg.add_events("t1", [ev("ana", "in the same transaction")])
        pg.add_summary(ANA, "general", "too far", -(2**70), 1, T0)
    assert pg.summaries(ANA) == [] and pg.list_events(ANA) == []
    assert pg.add_summary(ANA, "general", "fits", 2**63 - 1, 1, T0).covers_to_event == 2**63 - 1


def test_ids_are_never_handed_out_again_after_an_erase(pg: Store) -> None:
    first = pg.add_events("t1", [ev("ana", "a"), ev("ana", "b")]).added
    pg.erase_user(ANA)
    again = pg.add_events("t1", [ev("ana", "c")]).added
    assert again[0] > max(first)


def test_reads_in_a_transaction_see_its_rows_and_other_threads_do_not(pg: Store) -> None:
    seen: list[int] = []
    with pg.transaction():
        pg.add_events("t1", [ev("ana", "pending")])
        assert [e.text for e in pg.list_events(ANA)] == ["pending"]
        reader = threading.Thread(target=lambda: seen.append(len(pg.list_events(ANA))))
        reader.start()
        reader.join(10)
    assert seen == [0] and len(pg.list_events(ANA)) == 1


def test_a_users_ids_become_visible_in_order_under_concurrent_writers(pg: Store) -> None:
    # Sequence values are drawn before commit: a later batch of the same user must wait
    # for an earlier one, or a reader could see id n+1 before id n and skip n for good.
    later: list[int] = []
    with pg.transaction():
        earlier = pg.add_events("t1", [ev("ana", "first")]).added
        writer = threading.Thread(target=lambda: later.extend(pg.add_events("t1", [ev("ana", "second")]).added))
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive() and later == []  # waiting for this transaction
        other_user = pg.add_events("t1", [ev("bo", "not blocked")]).added
        assert other_user
    writer.join(10)
    assert later and later[0] > earlier[0]


def test_an_empty_database_lists_every_step_without_writing_then_migrates(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.url(tmp_path, "empty")
    store = open_store(url, migrate=False)
    try:
        from tailored.store.postgres.schema import migrations

        pending = store.migrate(dry_run=True)
        assert pending == [name for name, _ in migrations.steps] and pending[:2] == ["m001_events", "m002_vectors"]
        assert store.migrate(dry_run=True) == pending  # nothing was recorded
        assert "table events is missing" in store.integrity_check()
        assert store.migrate() == pending and store.integrity_check() == "ok"
        # Connections opened before the vector type existed were renewed: vectors work.
        store.add_events("t1", [ev("ana", "a")], np.ones((1, 3), dtype=np.float32), "m")
        assert store.user_index(ANA, "m").has_vector.all()
    finally:
        store.close()
    reopened = open_store(url.replace("postgresql://", "postgres://", 1))  # the short scheme too
    try:
        assert reopened.migrate(dry_run=True) == [] and len(reopened.list_events(ANA)) == 1
    finally:
        reopened.close()


def test_a_missing_database_is_a_store_error_naming_it(postgres_server: PostgresServer) -> None:
    with pytest.raises(StoreError, match="no_such_database"):
        open_store(postgres_server.server.get_uri("no_such_database"))


def test_stats_report_the_database_size_and_no_file(pg: Store) -> None:
    pg.add_events("t1", [ev("ana", "héllo")], np.ones((1, 4), dtype=np.float32), "m")
    stats = pg.stats("t1")
    assert stats.db_path is None and stats.db_bytes is not None and stats.db_bytes > 0
    assert stats.tenant_bytes == len("héllo".encode()) + 4 * 4


def test_an_erase_inside_a_transaction_rewrites_the_tables_once_it_commits(
    pg: Store, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    marker = "okapitimbuktu"
    pg.add_events("t1", [ev("ana", f"secret {marker}"), ev("bo", "bo stays")])
    with pg.transaction():  # VACUUM cannot run inside it: the rewrite waits for the commit
        assert pg.erase_user(ANA) == 1
        pg.add_events("t1", [ev("bo", "and more")])
    assert marker.encode() not in postgres_server.raw_bytes(tmp_path)
    assert [e.text for e in pg.list_events(Scope("t1", "bo"))] == ["bo stays", "and more"]


def test_an_erase_by_a_role_that_cannot_rewrite_the_tables_says_so(
    pg: Store, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    import psycopg

    url = pg.url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE tailored_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO tailored_app")
    app = open_store(url.replace("postgres:@", "tailored_app@", 1))  # a role that owns nothing
    try:
        app.add_events("t1", [ev("ana", "a")])
        with pytest.raises(StoreError, match="VACUUM FULL needs the tables' owner"):
            app.erase_user(ANA)
        assert app.list_events(ANA) == []  # the rows are gone all the same
    finally:
        app.close()


def test_the_head_rows_step_counts_the_events_an_older_database_holds(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """m005 fills a head row per user from the events already stored."""
    from tailored.store import Scope
    from tailored.store.postgres.schema import migrations

    url = postgres_server.url(tmp_path, "older")
    store = open_store(url, migrate=False)
    try:
        with store._pool.connection() as conn:  # type: ignore[attr-defined]
            migrations.apply(conn, stop_before="m005_user_heads")
            conn.execute(
                "INSERT INTO events (tenant, user_id, kind, text, happened_at, ingested_at)"
                " SELECT 't1', 'ana', 'message', 'old ' || g, now(), now() FROM generate_series(1, 7) g"
            )
        assert store.migrate()[0] == "m005_user_heads"
        version = store.user_version(Scope("t1", "ana"))
        assert version[0] == 7 and version == store.user_index(Scope("t1", "ana"), "m").version
        assert store.user_version(Scope("t1", "bo")) == (0, 0, 0)
    finally:
        store.close()
