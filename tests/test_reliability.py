"""Crashes and concurrent writers against a real SQLite file, in real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tailored import Engine
from tailored.store import Scope
from tailored.testing import HashEmbedder

WRITER = """
import sys
from tailored import Engine
from tailored.store import Scope
from tailored.testing import HashEmbedder
db, user, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
eng = Engine(db, embedder=HashEmbedder())
for b in range(batches):
    batch = [{"user_id": user, "text": f"{user} event {b}-{i} " + "lorem ipsum " * 20,
              "source_id": f"{user}-{b}-{i}"} for i in range(size)]
    # send every batch twice: the second copy must be recognised as duplicates
    eng.add(batch)
    res = eng.add(batch[: size // 2])
    assert res.duplicates == size // 2 and not res.added, res
    print(f"ack {b}", flush=True)
"""


def writer(db: Path, user: str, batches: int, size: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), user, str(batches), str(size)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_mid_ingest_loses_no_acknowledged_event(db_path: Path) -> None:
    Engine(db_path, embedder=HashEmbedder()).close()  # migrate before the race
    proc = writer(db_path, "ana", batches=10_000, size=50)
    acked: list[int] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ack "):
            acked.append(int(line.split()[1]))
    assert len(acked) >= 40, proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {r[0] for r in conn.execute("SELECT source_id FROM events WHERE user_id = 'ana'")}
    conn.close()
    for b in acked:
        assert all(f"ana-{b}-{i}" in stored for i in range(50)), f"acknowledged batch {b} lost"
    # batches are atomic: never a partial one
    assert len(stored) % 50 == 0
    eng = Engine(db_path, embedder=HashEmbedder())
    assert eng.store.integrity_check() == "ok"
    assert eng.search("ana", "event lorem", k=3)
    head = eng.store.user_version(Scope(eng.tenant, "ana"))
    assert head[0] == len(stored)  # the user's head row agrees with the rows
    eng.close()


def test_concurrent_writers_lose_and_duplicate_nothing(db_path: Path) -> None:
    Engine(db_path, embedder=HashEmbedder()).close()
    users = [f"user{i}" for i in range(4)]
    procs = [writer(db_path, u, batches=15, size=20) for u in users]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    eng = Engine(db_path, embedder=HashEmbedder())
    counts = {u.user_id: u.events for u in eng.users()}
    assert counts == {u: 300 for u in users}
    rows = eng.store._read("SELECT count(*), count(DISTINCT tenant || user_id || source_id) FROM events")[0]
    assert rows[0] == rows[1] == 1200
    assert eng.stats().vectors == 1200
    eng.close()


def test_reads_go_on_while_another_thread_holds_a_write_transaction(engine: Engine) -> None:
    import threading

    engine.add({"user_id": "ana", "role": "user", "text": "I keep bees on the roof"})
    inside, release = threading.Event(), threading.Event()
    seen_by_writer: list[int] = []

    def writer() -> None:
        with engine.store._write() as conn:
            conn.execute("INSERT INTO api_keys (id, tenant, hash, admin, created_us) VALUES ('k1', 't', 'h', 0, 0)")
            seen_by_writer.append(len(engine.store._read("SELECT id FROM api_keys")))  # its own row
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inside.wait(10)
        hits = engine.search("ana", "bees")  # would wait for the commit with one shared connection
        assert thread.is_alive() and not release.is_set()  # so the write is still open here
        assert hits and "bees" in hits[0].event.text
        assert engine.store._read("SELECT count(*) FROM api_keys")[0][0] == 0  # uncommitted: not visible
        assert seen_by_writer == [1]
    finally:
        release.set()
        thread.join()
    assert engine.store._read("SELECT count(*) FROM api_keys")[0][0] == 1


def test_a_process_never_ranks_with_an_erased_users_cached_rows(db_path: Path) -> None:
    """Two engines on one file stand for two server workers. A user erased and re-created
    by one worker must never be ranked with the other worker's cached rows."""
    from tailored.store import Scope

    a, b = Engine(db_path, embedder=HashEmbedder()), Engine(db_path, embedder=HashEmbedder())
    try:
        a.add([{"user_id": "u", "role": "user", "text": f"secret diagnosis {i} zebra"} for i in range(5)])
        assert "zebra" in b.search("u", "zebra diagnosis")[0].event.text  # b caches u
        erased_ids = {e.id for e in a.events("u")}
        a.erase("u")
        a.add([{"user_id": "u", "role": "user", "text": f"harmless note {i} about weather"} for i in range(7)])
        assert not erased_ids & {e.id for e in a.events("u")}  # ids are never handed out again
        fresh = {h.event.id: h.parts.dense for h in a.search("u", "zebra diagnosis", k=7)}
        seen = {h.event.id: h.parts.dense for h in b.search("u", "zebra diagnosis", k=7)}
        assert seen == fresh
        view = b.retriever.cache.get(Scope(b.tenant, "u"))
        assert not any("zebra" in t for t in view.data.texts)
        assert view.version == b.store.user_version(Scope(b.tenant, "u"))
        # Re-created again with as many events: the same count, so the version must tell.
        a.erase("u")
        a.add([{"user_id": "u", "role": "user", "text": f"tulip bulbs {i}"} for i in range(7)])
        assert all("tulip" in h.event.text for h in b.search("u", "tulip bulbs", k=7))
        assert all("tulip" in t for t in b.retriever.cache.get(Scope(b.tenant, "u")).data.texts)
    finally:
        a.close()
        b.close()


def test_reads_after_close_fail_clearly(db_path: Path) -> None:
    import pytest

    from tailored.errors import StoreError

    eng = Engine(db_path, embedder=HashEmbedder())
    eng.add({"user_id": "ana", "role": "user", "text": "hello"})
    assert eng.events("ana")
    eng.close()
    with pytest.raises(StoreError):
        eng.events("ana")
