"""Persistence. ``open_store(url)`` is the one way to get a store; it runs migrations.

Backends register in the ``tailored.stores`` entry-point group under their URL scheme; the
built-in SQLite backend registers there like any third-party one (see pyproject.toml). A
backend is a class with ``open(url, *, migrate=True)`` returning a ``Store``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import plugins
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
    StoredKey,
    SummaryStore,
    UserIndexData,
)


def scheme_of(url: str | Path) -> str:
    """The backend a URL names: its scheme, or ``sqlite`` for a plain file path."""
    text = str(url)
    return text.split("://", 1)[0] if "://" in text else "sqlite"


GROUP = "tailored.stores"
BUILTINS = {"sqlite": "tailored.store.sqlite:SQLiteStore"}


def local_file(url: str | Path) -> Path | None:
    """The file a SQLite store URL names (``sqlite:///PATH?options`` or a plain path), or
    None when the URL names no file on this disk (another backend, ``:memory:``). The one
    reading of SQLite URLs outside the backend: whether a store exists, whether two URLs
    name one store, and what another process must open."""
    text = str(url)
    if scheme_of(text) != "sqlite":
        return None
    path = text.removeprefix("sqlite:///").partition("?")[0]
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path).expanduser()


def available_stores() -> list[str]:
    return plugins.available(GROUP, BUILTINS)


def _backend(scheme: str) -> Any:
    if scheme not in available_stores():
        known = ", ".join(f"{name}://..." for name in available_stores())
        raise InvalidInput(f"unsupported store URL scheme {scheme!r}; installed backends: {known}")
    return plugins.load(GROUP, scheme, InvalidInput, BUILTINS)


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
    "StoredKey",
    "SummaryStore",
    "UserIndexData",
    "available_stores",
    "local_file",
    "open_store",
    "scheme_of",
]
