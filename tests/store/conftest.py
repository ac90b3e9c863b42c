"""The backends every store test runs against.

Each backend entry makes the URL of a fresh, empty store under a test's temp dir and can
show the bytes it keeps on disk (for the erase test). A backend joins the conformance suite
by adding an entry here.

PostgreSQL runs on one throwaway server per test session (``pgserver``: PostgreSQL 16 with
pgvector, started from Python, its data dir in a fresh temp dir) with a fresh database per
store. Without ``pgserver`` or
``psycopg`` installed (the ``postgres`` extra), its tests skip with the reason.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tailored.store import Store, open_store


@dataclass
class Backend:
    name: str
    url: Callable[[Path, str], str]  # the URL of a fresh, empty store called NAME in a test's temp dir
    raw_bytes: Callable[[Path], bytes]  # everything the backend keeps on disk
    server: str | None = None  # the session fixture that starts its server, if it needs one

    def open(self, tmp: Path) -> Store:
        return open_store(self.url(tmp, "conformance"))


def _sqlite_bytes(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp.glob("conformance.db*")))


class PostgresServer:
    """The session's PostgreSQL server: a database per store, read back from its files."""

    def __init__(self) -> None:
        self.server: Any = None
        self.datadir = Path()
        self.databases: dict[Path, str] = {}  # a test's temp dir -> its conformance database

    def start(self, datadir: Path) -> None:
        import pgserver
        import psycopg

        self.datadir = datadir
        self.server = pgserver.get_server(datadir, cleanup_mode="delete")
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            # A template with the extension: CREATE EXTENSION needs a superuser, which a
            # deployment's own role need not be; every test database is copied from it.
            conn.execute("CREATE DATABASE tailored_template")
        with psycopg.connect(self.server.get_uri("tailored_template"), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION vector")

    def stop(self) -> None:
        """An immediate shutdown (SIGQUIT: no shutdown checkpoint, which took a minute
        after a full run): the data directory is deleted right after."""
        if self.server is not None:
            pidfile = self.datadir / "postmaster.pid"
            if pidfile.exists():
                pid = int(pidfile.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)
                    for _ in range(100):
                        os.kill(pid, 0)
                        time.sleep(0.1)
            self.server.cleanup()
            self.server = None

    def url(self, tmp: Path, name: str) -> str:
        import psycopg

        database = "t" + hashlib.blake2b(f"{tmp}/{name}".encode(), digest_size=12).hexdigest()
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {database} TEMPLATE tailored_template")
        if name == "conformance":
            self.databases[tmp] = database
        return str(self.server.get_uri(database))

    def raw_bytes(self, tmp: Path) -> bytes:
        """The files of the test's database and of the cluster (catalogs, transaction
        status, the server log), after a CHECKPOINT has written every dirty page to them.
        Left out: other tests' databases, and pg_wal, the write-ahead log, which keeps
        what was written (erased rows included) until its segments are recycled and
        overwritten (see README, "Storage and guarantees")."""
        import psycopg

        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (self.databases[tmp],)).fetchone()
        assert row is not None
        mine = self.datadir / "base" / str(row[0])
        files = [
            p
            for p in sorted(self.datadir.rglob("*"))
            if p.is_file() and "pg_wal" not in p.parts and (p.is_relative_to(mine) or "base" not in p.parts)
        ]
        return b"".join(p.read_bytes() for p in files)


POSTGRES = PostgresServer()

BACKENDS = [
    Backend("sqlite", lambda tmp, name: f"sqlite:///{tmp / name}.db", _sqlite_bytes),
    Backend("postgresql", POSTGRES.url, POSTGRES.raw_bytes, server="postgres_server"),
]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the session; skipped (with the reason) without the postgres extra.

    Its data dir is not under pytest's temp root: run as root, pgserver starts the server
    as an unprivileged user, and every pytest session that starts (another one on the
    machine too) resets that root to mode 0700, after which the server can no longer open
    its own files (it stopped mid-run with "Permission denied" that way)."""
    for module in ("psycopg", "psycopg_pool", "pgvector"):
        pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[postgres]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        pytest.importorskip("pgserver", reason="pgserver is not installed: pip install -e '.[postgres]'")
    base = Path(tempfile.mkdtemp(prefix="tailored-postgres-"))
    try:
        POSTGRES.start(base / "data")
        yield POSTGRES
    finally:
        POSTGRES.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=BACKENDS, ids=lambda b: b.name)
def backend(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.param
    if backend.server is not None:
        request.getfixturevalue(backend.server)
    return backend


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[Store]:
    s = backend.open(tmp_path)
    yield s
    s.close()


@pytest.fixture
def fresh_url(backend: Backend, tmp_path: Path) -> Callable[[str], str]:
    """The URL of a fresh, empty store of the backend, by name (one test may need several)."""
    return lambda name: backend.url(tmp_path, name)
