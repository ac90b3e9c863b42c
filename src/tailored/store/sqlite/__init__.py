"""The embedded SQLite backend: one file holds events, full text, vectors, memories and keys."""

from __future__ import annotations

from .schema import migrations
from .store import SQLiteStore

__all__ = ["SQLiteStore", "migrations"]
