"""The PostgreSQL backend: events, vectors (pgvector), memories and keys in one database."""

from __future__ import annotations

from .schema import migrations
from .store import PostgresStore

__all__ = ["PostgresStore", "migrations"]
