"""The PostgreSQL schema as named steps (see ``migrations.py``): the history of the format.

A step never changes once released; a change of schema is a new step. The steps follow the
SQLite ones in spirit, without full text (BM25 is computed in memory by ``retrieve``).

Choices that hold for every table:
- ``(tenant, user_id)`` leads every primary key and index: every user-owned query names
  both, so it reads one user's contiguous index range, and a user's rows can reference
  each other with composite foreign keys (evidence and vectors of another user's events
  are refused by the database itself, not only by the code);
- ids are ``bigint`` identities, drawn from sequences that never go back: an id is never
  handed out twice, even after an erase;
- tenant and user ids use the ``C`` collation: byte order, as in SQLite, so user pages
  come in the same order on both backends, and comparisons are cheap;
- statistics are off (``SET STATISTICS 0``) for columns holding users' content (text,
  payloads, values, vectors): ANALYZE would otherwise copy sample values into the
  ``pg_statistic`` catalog, where an erase could not reach them.
"""

from __future__ import annotations

from .migrations import Conn, Migrations

migrations = Migrations("tailored")

_OWNER = 'tenant text COLLATE "C" NOT NULL, user_id text COLLATE "C" NOT NULL'


def _no_statistics(conn: Conn, table: str, columns: list[str]) -> None:
    actions = ", ".join(f"ALTER COLUMN {c} SET STATISTICS 0" for c in columns)
    conn.execute(f"ALTER TABLE {table} {actions}")


@migrations
def m001_events(conn: Conn) -> None:
    conn.execute(
        f"""CREATE TABLE events (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY,
            kind text NOT NULL,
            role text,
            text text NOT NULL,
            payload json,
            happened_at timestamptz NOT NULL,
            ingested_at timestamptz NOT NULL,
            session_id text,
            source_id text,
            PRIMARY KEY (tenant, user_id, id)
        )"""
    )
    conn.execute("CREATE INDEX events_user_time ON events (tenant, user_id, happened_at, id)")
    conn.execute("CREATE UNIQUE INDEX events_source ON events (tenant, user_id, source_id) WHERE source_id IS NOT NULL")
    _no_statistics(conn, "events", ["role", "text", "payload", "session_id", "source_id"])


@migrations
def m002_vectors(conn: Conn) -> None:
    # One unconstrained ``vector`` column with the model's name beside it: each embedding
    # model has its own dimension, and a store outlives a change of model. Retrieval reads
    # a user's vectors into memory (``user_index``), so no ANN index needs a fixed
    # dimension; one can be added per model as a partial expression index when needed.
    # CREATE EXTENSION needs a privileged role the first time: an administrator can run it
    # beforehand, after which IF NOT EXISTS asks for no privilege.
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute(
        f"""CREATE TABLE vectors (
            {_OWNER},
            event_id bigint NOT NULL,
            model text NOT NULL,
            vec vector NOT NULL,
            PRIMARY KEY (tenant, user_id, event_id, model),
            FOREIGN KEY (tenant, user_id, event_id) REFERENCES events (tenant, user_id, id) ON DELETE CASCADE
        )"""
    )
    _no_statistics(conn, "vectors", ["vec"])


@migrations
def m003_api_keys(conn: Conn) -> None:
    # Only a hash of each key is stored: a leaked database does not leak working keys.
    # Keys belong to a tenant, not a user: the hash is looked up alone.
    conn.execute(
        """CREATE TABLE api_keys (
            id text PRIMARY KEY,
            tenant text COLLATE "C" NOT NULL,
            hash text NOT NULL UNIQUE,
            admin boolean NOT NULL DEFAULT false,
            label text,
            created_at timestamptz NOT NULL,
            revoked_at timestamptz
        )"""
    )


@migrations
def m004_memories(conn: Conn) -> None:
    conn.execute(
        f"""CREATE TABLE memories (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY,
            kind text NOT NULL,
            key text NOT NULL,
            value text NOT NULL,
            polarity text,
            strength double precision NOT NULL,
            confidence double precision NOT NULL,
            multi boolean NOT NULL,
            text text NOT NULL,
            source text NOT NULL,
            status text NOT NULL,
            pinned boolean NOT NULL DEFAULT false,
            valid_from timestamptz NOT NULL,
            valid_to timestamptz,
            superseded_by bigint,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, user_id, id)
        )"""
    )
    conn.execute("CREATE INDEX memories_aspect ON memories (tenant, user_id, kind, key)")
    _no_statistics(conn, "memories", ["key", "value", "text"])
    conn.execute(
        f"""CREATE TABLE memory_evidence (
            {_OWNER},
            memory_id bigint NOT NULL,
            event_id bigint NOT NULL,
            PRIMARY KEY (tenant, user_id, memory_id, event_id),
            FOREIGN KEY (tenant, user_id, memory_id) REFERENCES memories (tenant, user_id, id) ON DELETE CASCADE,
            FOREIGN KEY (tenant, user_id, event_id) REFERENCES events (tenant, user_id, id) ON DELETE CASCADE
        )"""
    )
    conn.execute(
        f"""CREATE TABLE memory_log (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY,
            memory_id bigint NOT NULL,
            at timestamptz NOT NULL,
            action text NOT NULL,
            detail text NOT NULL DEFAULT '',
            other_id bigint,
            PRIMARY KEY (tenant, user_id, id),
            FOREIGN KEY (tenant, user_id, memory_id) REFERENCES memories (tenant, user_id, id) ON DELETE CASCADE
        )"""
    )
    conn.execute("CREATE INDEX memory_log_memory ON memory_log (tenant, user_id, memory_id, id)")
    _no_statistics(conn, "memory_log", ["detail"])
    conn.execute(
        f"""CREATE TABLE summaries (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY,
            task text NOT NULL,
            text text NOT NULL,
            covers_to_event bigint NOT NULL,
            events_covered bigint NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, user_id, id)
        )"""
    )
    conn.execute("CREATE INDEX summaries_user ON summaries (tenant, user_id, task, id)")
    _no_statistics(conn, "summaries", ["text"])
    # How far each extractor has read each user's events: extraction resumes from here.
    conn.execute(
        f"""CREATE TABLE extraction_marks (
            {_OWNER},
            extractor text NOT NULL,
            last_event_id bigint NOT NULL,
            PRIMARY KEY (tenant, user_id, extractor)
        )"""
    )


@migrations
def m005_user_heads(conn: Conn) -> None:
    # One row per user with events: how many, the highest id and its ingest time. It is the
    # user's version, which retrieval checks on every search, in one key lookup; counting
    # the user's rows took 11-28 ms for a user with 100,000 events.
    conn.execute(
        f"""CREATE TABLE user_heads (
            {_OWNER},
            events bigint NOT NULL,
            max_id bigint NOT NULL,
            max_ingested_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, user_id)
        )"""
    )
    conn.execute(
        "INSERT INTO user_heads (tenant, user_id, events, max_id, max_ingested_at)"
        " SELECT h.tenant, h.user_id, h.n, h.m, e.ingested_at FROM"
        " (SELECT tenant, user_id, count(*) AS n, max(id) AS m FROM events GROUP BY tenant, user_id) h"
        " JOIN events e ON e.tenant = h.tenant AND e.user_id = h.user_id AND e.id = h.m"
    )


@migrations
def m006_catalog(conn: Conn) -> None:
    # The tenant's catalogue for recommendation. Interactions with items are events (the
    # item id in the payload), read tenant-wide by kind when a recommender is fitted.
    conn.execute(
        """CREATE TABLE catalog_items (
            tenant text COLLATE "C" NOT NULL,
            item_id text COLLATE "C" NOT NULL,
            title text NOT NULL,
            text text NOT NULL,
            attributes json NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, item_id)
        )"""
    )
    conn.execute("CREATE INDEX events_kind ON events (tenant, kind)")


@migrations
def m007_user_keys(conn: Conn) -> None:
    # A key may be scoped to one user of its tenant (handed to that user's agent or app):
    # NULL is a tenant-wide key, as every key was before.
    conn.execute('ALTER TABLE api_keys ADD COLUMN user_id text COLLATE "C"')


@migrations
def m008_webhooks(conn: Conn) -> None:
    # Registrations, and the outbox: each event once (its data as text, written in the
    # transaction of the change it announces), one delivery row per registration that
    # subscribed to it. Workers claim deliveries with FOR UPDATE SKIP LOCKED and a lease.
    # Events and deliveries lead with (tenant, user_id): an erase deletes them with the
    # user's other rows.
    conn.execute(
        """CREATE TABLE webhooks (
            id text COLLATE "C" PRIMARY KEY,
            tenant text COLLATE "C" NOT NULL,
            url text NOT NULL,
            secret text NOT NULL,
            events text NOT NULL,
            created_at timestamptz NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX webhooks_tenant ON webhooks (tenant, created_at)")
    conn.execute(
        f"""CREATE TABLE webhook_events (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            type text NOT NULL,
            data text NOT NULL,
            created_at timestamptz NOT NULL
        )"""
    )
    conn.execute("CREATE INDEX webhook_events_user ON webhook_events (tenant, user_id)")
    _no_statistics(conn, "webhook_events", ["data"])
    conn.execute(
        f"""CREATE TABLE webhook_deliveries (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            webhook_id text COLLATE "C" NOT NULL,
            event_id bigint NOT NULL,
            status text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_at timestamptz,
            lease_owner text,
            lease_until timestamptz,
            last_status_code integer,
            last_error text,
            created_at timestamptz NOT NULL,
            delivered_at timestamptz
        )"""
    )
    conn.execute("CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending'")
    conn.execute("CREATE INDEX webhook_deliveries_tenant ON webhook_deliveries (tenant, id)")
    conn.execute("CREATE INDEX webhook_deliveries_user ON webhook_deliveries (tenant, user_id)")


@migrations
def m009_sensitive(conn: Conn) -> None:
    # A user's switched-off sensitive categories (comma-separated), and the audit log of
    # their sensitive items' uses. Both lead with (tenant, user_id); an erase deletes them.
    conn.execute(
        f"""CREATE TABLE sensitive_settings (
            {_OWNER},
            off text NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, user_id)
        )"""
    )
    conn.execute(
        f"""CREATE TABLE sensitive_uses (
            {_OWNER},
            id bigint GENERATED ALWAYS AS IDENTITY,
            at timestamptz NOT NULL,
            purpose text NOT NULL,
            source text NOT NULL,
            item_id bigint NOT NULL,
            categories text NOT NULL,
            query text NOT NULL,
            PRIMARY KEY (tenant, user_id, id)
        )"""
    )
    _no_statistics(conn, "sensitive_uses", ["query"])


TABLES = (
    "events",
    "vectors",
    "api_keys",
    "memories",
    "memory_evidence",
    "memory_log",
    "summaries",
    "extraction_marks",
    "user_heads",
    "catalog_items",
    "webhooks",
    "webhook_events",
    "webhook_deliveries",
    "sensitive_settings",
    "sensitive_uses",
)
"""Every table of the schema; ``USER_TABLES`` are those an erase deletes from."""

USER_TABLES = (
    "sensitive_uses",
    "sensitive_settings",
    "webhook_deliveries",
    "webhook_events",
    "memory_log",
    "memory_evidence",
    "vectors",
    "memories",
    "summaries",
    "extraction_marks",
    "user_heads",
    "events",
    "api_keys",  # keys scoped to the user (tenant-wide keys have no user)
)
