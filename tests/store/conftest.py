"""The backends every store test runs against.

Each backend entry opens a fresh store in a temp dir and can show the bytes it keeps on
disk (for the erase test). A backend joins the conformance suite by adding an entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tailored.store import Store, open_store


@dataclass
class Backend:
    name: str
    open: Callable[[Path], Store]
    raw_bytes: Callable[[Path], bytes]  # everything the backend keeps on disk


def _sqlite_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp.glob("conformance.db*")))


BACKENDS = [
    Backend("sqlite", lambda tmp: open_store(f"sqlite:///{tmp / 'conformance.db'}"), _sqlite_bytes),
]


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.param
    return backend


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    s = backend.open(tmp_path)
    yield s
    s.close()
