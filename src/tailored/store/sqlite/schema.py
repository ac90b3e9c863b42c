"""The SQLite schema as named steps (see ``migrations.py``): the history of the file format.

A step never changes once released; a change of schema is a new step. Steps run with
foreign keys off (``SQLiteStore.migrate``), so that a table can be rebuilt in place.
"""

from __future__ import annotations

import sqlite3

from .migrations import Migrations

migrations = Migrations("tailored")


@migrations
def m001_events(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            role TEXT,
            text TEXT NOT NULL,
            payload TEXT,
            time_us INTEGER NOT NULL,
            ingested_us INTEGER NOT NULL,
            session_id TEXT,
            source_id TEXT
        )"""
    )
    conn.execute("CREATE INDEX events_user_time ON events (tenant, user_id, time_us, id)")
    conn.execute("CREATE UNIQUE INDEX events_source ON events (tenant, user_id, source_id) WHERE source_id IS NOT NULL")


@migrations
def m002_fulltext(conn: sqlite3.Connection) -> None:
    # rowid = events.id. ``owner`` holds the Scope key, indexed, so that FTS5 intersects a
    # user's postings with the query's: a MATCH is scoped to one user inside the index.
    conn.execute(
        "CREATE VIRTUAL TABLE events_fts USING fts5("
        " text, speaker, owner, tokenize = 'porter unicode61 remove_diacritics 2')"
    )


@migrations
def m003_vectors(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE vectors (
            event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            vec BLOB NOT NULL,
            PRIMARY KEY (event_id, model)
        ) WITHOUT ROWID"""
    )


@migrations
def m004_api_keys(conn: sqlite3.Connection) -> None:
    # Only a hash of each key is stored: a leaked database does not leak working keys.
    conn.execute(
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            admin INTEGER NOT NULL DEFAULT 0,
            label TEXT,
            created_us INTEGER NOT NULL,
            revoked_us INTEGER
        )"""
    )


@migrations
def m005_memories(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE memories (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            polarity TEXT,
            strength REAL NOT NULL,
            confidence REAL NOT NULL,
            multi INTEGER NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL,
            status TEXT NOT NULL,
            pinned INTEGER NOT NULL DEFAULT 0,
            valid_from_us INTEGER NOT NULL,
            valid_to_us INTEGER,
            superseded_by INTEGER,
            created_us INTEGER NOT NULL,
            updated_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX memories_aspect ON memories (tenant, user_id, kind, key)")
    conn.execute(
        """CREATE TABLE memory_evidence (
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL,
            PRIMARY KEY (memory_id, event_id)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE memory_log (
            id INTEGER PRIMARY KEY,
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            at_us INTEGER NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            other_id INTEGER
        )"""
    )
    conn.execute("CREATE INDEX memory_log_memory ON memory_log (memory_id, id)")
    conn.execute(
        """CREATE TABLE summaries (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            task TEXT NOT NULL,
            text TEXT NOT NULL,
            covers_to_event INTEGER NOT NULL,
            events_covered INTEGER NOT NULL,
            created_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX summaries_user ON summaries (tenant, user_id, task, id)")
    # How far each extractor has read each user's events: extraction resumes from here.
    conn.execute(
        """CREATE TABLE extraction_marks (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            extractor TEXT NOT NULL,
            last_event_id INTEGER NOT NULL,
            PRIMARY KEY (tenant, user_id, extractor)
        ) WITHOUT ROWID"""
    )


def _rebuild(conn: sqlite3.Connection, table: str, create: str, indexes: list[str]) -> None:
    """Recreate ``table`` from ``create`` (same columns), keeping every row and id."""
    conn.execute(create.replace(f"CREATE TABLE {table} ", f"CREATE TABLE {table}_new ", 1))
    conn.execute(f"INSERT INTO {table}_new SELECT * FROM {table}")
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    for sql in indexes:
        conn.execute(sql)


@migrations
def m006_ids_never_reused(conn: sqlite3.Connection) -> None:
    # A plain INTEGER PRIMARY KEY hands the highest id out again once its row is deleted,
    # so an erased user's last event id could name a new user's event (in caches, exports,
    # evidence lists). AUTOINCREMENT keeps every id ever used out of circulation.
    for table, indexes in (
        ("events", ["events_user_time", "events_source"]),
        ("memories", ["memories_aspect"]),
        ("memory_log", ["memory_log_memory"]),
        ("summaries", ["summaries_user"]),
    ):
        create = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
        index_sql = [
            conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()[0]
            for name in indexes
        ]
        create = create.replace("id INTEGER PRIMARY KEY,", "id INTEGER PRIMARY KEY AUTOINCREMENT,", 1)
        _rebuild(conn, table, create, index_sql)


@migrations
def m007_user_heads(conn: sqlite3.Connection) -> None:
    # One row per user with events: how many, the highest id and its ingest time. It is the
    # user's version (what retrieval's cache checks on every search) in one key lookup,
    # where counting the user's rows grew with the user.
    conn.execute(
        """CREATE TABLE user_heads (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            events INTEGER NOT NULL,
            max_id INTEGER NOT NULL,
            max_ingested_us INTEGER NOT NULL,
            PRIMARY KEY (tenant, user_id)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        "INSERT INTO user_heads SELECT tenant, user_id, count(*), max(id), 0 FROM events GROUP BY tenant, user_id"
    )
    conn.execute("UPDATE user_heads SET max_ingested_us = (SELECT ingested_us FROM events WHERE id = max_id)")


@migrations
def m008_no_fulltext_table(conn: sqlite3.Connection) -> None:
    # BM25 is computed per user in memory (tailored.retrieve.bm25), with that user's
    # statistics only: the file-wide FTS5 index is no longer read.
    conn.execute("DROP TABLE events_fts")


@migrations
def m009_catalog(conn: sqlite3.Connection) -> None:
    # The tenant's catalogue for recommendation. Interactions with items are events (the
    # item id in the payload), read tenant-wide by kind when a recommender is fitted.
    conn.execute(
        """CREATE TABLE catalog_items (
            tenant TEXT NOT NULL,
            item_id TEXT NOT NULL,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            attributes TEXT NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (tenant, item_id)
        ) WITHOUT ROWID"""
    )
    conn.execute("CREATE INDEX events_kind ON events (tenant, kind)")


@migrations
def m010_user_keys(conn: sqlite3.Connection) -> None:
    # A key may be scoped to one user of its tenant (handed to that user's agent or app):
    # NULL is a tenant-wide key, as every key was before.
    conn.execute("ALTER TABLE api_keys ADD COLUMN user_id TEXT")


@migrations
def m011_webhooks(conn: sqlite3.Connection) -> None:
    # Registrations, and the outbox: each event once (its data as JSON, written in the
    # transaction of the change it announces), one delivery row per registration that
    # subscribed to it. A worker claims a delivery by writing a lease (owner and expiry)
    # under the file's write lock; an expired lease can be claimed again.
    conn.execute(
        """CREATE TABLE webhooks (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            url TEXT NOT NULL,
            secret TEXT NOT NULL,
            events TEXT NOT NULL,
            created_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX webhooks_tenant ON webhooks (tenant, created_us)")
    conn.execute(
        """CREATE TABLE webhook_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            created_us INTEGER NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX webhook_events_user ON webhook_events (tenant, user_id)")
    conn.execute(
        """CREATE TABLE webhook_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            webhook_id TEXT NOT NULL,
            event_id INTEGER NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_us INTEGER,
            lease_owner TEXT,
            lease_until_us INTEGER,
            last_status_code INTEGER,
            last_error TEXT,
            created_us INTEGER NOT NULL,
            delivered_us INTEGER
        )"""
    )
    conn.execute("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_us) WHERE status = 'pending'")
    conn.execute("CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant, id)")
    conn.execute("CREATE INDEX webhook_deliveries_user ON webhook_deliveries (tenant, user_id)")


@migrations
def m012_sensitive(conn: sqlite3.Connection) -> None:
    # A user's switched-off sensitive categories (comma-separated), and the audit log of
    # their sensitive items' uses. Both lead with (tenant, user_id); an erase deletes them.
    conn.execute(
        """CREATE TABLE sensitive_settings (
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            off TEXT NOT NULL,
            updated_us INTEGER NOT NULL,
            PRIMARY KEY (tenant, user_id)
        ) WITHOUT ROWID"""
    )
    conn.execute(
        """CREATE TABLE sensitive_uses (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            at_us INTEGER NOT NULL,
            purpose TEXT NOT NULL,
            source TEXT NOT NULL,
            item_id INTEGER NOT NULL,
            categories TEXT NOT NULL,
            query TEXT NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX sensitive_uses_user ON sensitive_uses (tenant, user_id, id)")
