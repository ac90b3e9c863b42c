"""Persistence. ``open_store(url)`` is the one way to get a store; it runs migrations."""

from __future__ import annotations

from pathlib import Path

from ..errors import InvalidInput
from .base import EventFilter, Scope, Store, UserIndexData
from .sqlite import SQLiteStore


def open_store(url: str | Path) -> SQLiteStore:
    """Open the store a URL names: ``sqlite:///path/to/file.db`` or a plain file path."""
    text = str(url)
    if text.startswith("sqlite:///"):
        return SQLiteStore(text[len("sqlite:///") :])
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InvalidInput(f"unsupported store URL scheme {scheme!r}; use sqlite:///PATH")
    return SQLiteStore(text)


__all__ = ["EventFilter", "SQLiteStore", "Scope", "Store", "UserIndexData", "open_store"]
