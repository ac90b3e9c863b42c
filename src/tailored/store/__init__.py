"""Persistence. ``open_store(url)`` is the one way to get a store; it runs migrations.

Backends register in the ``tailored.stores`` entry-point group under their URL scheme; the
built-in SQLite backend registers there like any third-party one (see pyproject.toml). A
backend is a class with ``open(url, *, migrate=True)`` returning a ``Store``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .base import (
    ChangeAction,
    ClosedStatus,
    EventFilter,
    EventStore,
    KeyStore,
    MemoryStore,
    NewMemory,
    Scope,
    Store,
    SummaryStore,
    UserIndexData,
)


def scheme_of(url: str | Path) -> str:
    """The backend a URL names: its scheme, or ``sqlite`` for a plain file path."""
    text = str(url)
    return text.split("://", 1)[0] if "://" in text else "sqlite"


def available_stores() -> list[str]:
    return sorted({ep.name for ep in entry_points(group="tailored.stores")} | {"sqlite"})


def _backend(scheme: str) -> Any:
    eps = {ep.name: ep for ep in entry_points(group="tailored.stores")}
    if scheme in eps:
        return eps[scheme].load()
    if scheme == "sqlite":  # running from a source tree without the entry points installed
        from .sqlite import SQLiteStore

        return SQLiteStore
    known = ", ".join(f"{name}://..." for name in available_stores())
    raise InvalidInput(f"unsupported store URL scheme {scheme!r}; installed backends: {known}")


def open_store(url: str | Path, *, migrate: bool = True) -> Store:
    """Open the store a URL names (``sqlite:///path/to/file.db`` or a plain file path),
    applying pending schema steps unless ``migrate`` is False."""
    text = str(url)
    if scheme_of(text) == "sqlite" and "://" not in text:
        text = f"sqlite:///{text}"
    store: Store = _backend(scheme_of(text)).open(text, migrate=migrate)
    return store


__all__ = [
    "ChangeAction",
    "ClosedStatus",
    "EventFilter",
    "EventStore",
    "KeyStore",
    "MemoryStore",
    "NewMemory",
    "Scope",
    "Store",
    "SummaryStore",
    "UserIndexData",
    "available_stores",
    "open_store",
    "scheme_of",
]
