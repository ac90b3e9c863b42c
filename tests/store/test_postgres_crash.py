"""Kill the PostgreSQL server itself mid-batch: every acknowledged event is there after restart.

A writer process adds batches through the engine and prints an acknowledgement after each
``add`` returns. The test kills the postmaster with SIGKILL while batches are in flight (no
shutdown checkpoint; its backends die with it), starts the server again on the same data
directory (PostgreSQL replays its WAL) and reads back. Batches are atomic: a batch is there
whole or not at all. The server runs in a ``tempfile`` directory of its own, not the
session's shared one (see tests/test_serve_postgres.py for why not under pytest's root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tailored import Engine
from tailored.store import Scope
from tailored.testing import HashEmbedder

from ..test_reliability import WRITER
from ..test_serve_postgres import need_postgres, postmaster, stopped

BATCH = 50


@pytest.fixture
def datadir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tailored-pg-crash-"))
    yield path / "data"
    shutil.rmtree(path, ignore_errors=True)


def test_killing_the_server_mid_batch_loses_no_acknowledged_event(datadir: Path) -> None:
    need_postgres()
    import psycopg
    from pgserver.postgres_server import get_server

    server = get_server(datadir, cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE tailored")
    url = str(server.get_uri("tailored"))
    try:
        _crash_and_check(server, datadir, url)
    finally:
        server.cleanup()


def _crash_and_check(server: Any, datadir: Path, url: str) -> None:
    Engine(url, embedder=HashEmbedder()).close()  # migrate before the writer starts
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, "ana", "100000", str(BATCH)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 120
    while len(acked) < 30 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ack "):
            acked.append(int(line.split()[1]))
    assert len(acked) >= 30, proc.stderr.read() if proc.stderr else ""

    pid = postmaster(datadir)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # mid-batch: the writer is inside an add right now
    assert stopped(pid)
    rest, err = proc.communicate(timeout=60)
    acked += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("ack ")]  # raced the kill
    assert proc.returncode != 0 and "StoreError" in err  # the writer saw the server go

    time.sleep(1)  # the killed postmaster's backends notice and exit
    server.ensure_postgres_running()  # pg_ctl start on the same data: crash recovery replays the WAL
    eng = Engine(url, embedder=HashEmbedder())
    try:
        stored = {e.source_id for e in eng.store.list_events(Scope(eng.tenant, "ana"), limit=10_000_000)}
        for b in acked:
            assert all(f"ana-{b}-{i}" in stored for i in range(BATCH)), f"acknowledged batch {b} lost"
        assert len(stored) % BATCH == 0  # never part of a batch
        assert eng.store.integrity_check() == "ok"
        assert eng.store.user_version(Scope(eng.tenant, "ana"))[0] == len(stored)  # head row agrees
        assert eng.search("ana", "event lorem", k=3)
    finally:
        eng.close()
