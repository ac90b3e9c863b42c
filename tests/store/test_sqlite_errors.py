"""Issue 13: a failing SQLite store (full, read-only, a COMMIT that fails) gives one typed
error at every edge (Python ``StoreError``, one CLI line, a JSON ``store_error`` from the
API) and never leaves anything half-written or a transaction open."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tailored import Engine
from tailored.errors import StoreError
from tailored.store.sqlite import SQLiteStore
from tailored.testing import HashEmbedder

from ..server_util import running


def _fill(path: Path) -> Engine:
    eng = Engine(path, embedder=HashEmbedder())
    eng.add([{"user_id": "ana", "role": "user", "text": f"I love green tea, cup {i}"} for i in range(20)])
    eng.profile("ana")
    return eng


def _make_full(eng: Engine) -> None:
    """No page may be added to the file from now on (on this engine's write connection)."""
    store = eng.store
    assert isinstance(store, SQLiteStore)
    pages = store._read("PRAGMA page_count")[0][0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")


@pytest.fixture
def full(db_path: Path) -> Iterator[Engine]:
    eng = _fill(db_path)
    _make_full(eng)
    yield eng
    eng.close()


def test_a_full_store_refuses_whole_batches_and_memory_writes_then_recovers(full: Engine) -> None:
    before = len(full.events("ana", limit=1000))
    big = [{"user_id": "ana", "role": "user", "text": "x" * 4000 + f" {i}"} for i in range(300)]
    with pytest.raises(StoreError, match="full"):
        full.add(big)
    with pytest.raises(StoreError):
        for i in range(300):  # memory writes used to let a raw sqlite3 error escape
            full.remember("ana", {"kind": "fact", "key": f"k{i}", "value": "v" * 900})
    assert len(full.events("ana", limit=1000)) == before  # nothing of the batch
    store = full.store
    assert isinstance(store, SQLiteStore)
    assert not store._conn.in_transaction and store.integrity_check() == "ok"
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    assert len(full.add(big[:3]).added) == 3  # the same connection works again


def test_a_commit_that_fails_rolls_back(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    with pytest.raises(StoreError, match="FOREIGN KEY"), store._write() as conn:
        conn.execute("PRAGMA defer_foreign_keys = ON")  # the violation surfaces at COMMIT
        conn.execute("INSERT INTO vectors (event_id, model, vec) VALUES (999, 'm', x'00')")
    assert not store._conn.in_transaction
    assert store._read("SELECT count(*) FROM vectors") == [(0,)]
    store.create_key("k1", "t", "h", False, None)  # the next write is not stuck
    assert len(store.list_keys()) == 1
    store.close()


def test_the_api_answers_store_error_json_and_stores_nothing(full: Engine) -> None:
    from tailored.keys import Keys
    from tailored.server.app import create_app
    from tailored.server.settings import Settings

    store = full.store
    assert isinstance(store, SQLiteStore)
    store._conn.execute("PRAGMA max_page_count = 1073741823")
    _, secret = Keys(full.store).create("default")
    _make_full(full)
    app = create_app(Settings(), engine=full)
    headers = {"Authorization": f"Bearer {secret}"}
    events = [{"user_id": "ana", "role": "user", "text": "y" * 4000} for _ in range(300)]
    with running(app) as url:
        r = httpx.post(url + "/v1/events", json={"events": events}, headers=headers, timeout=60)
        assert r.status_code >= 500 and r.json()["error"]["code"] == "store_error"
        memory = {"kind": "fact", "key": "job", "value": "z" * 900}
        codes = {
            httpx.post(url + "/v1/users/ana/memories", json=memory, headers=headers, timeout=60).status_code
            for _ in range(200)
        }
        assert codes <= {201, 200, 500, 507} and max(codes) >= 500
    assert len(full.events("ana", limit=1000)) == 20


def test_the_cli_says_one_line_on_a_read_only_store(db_path: Path, tmp_path: Path) -> None:
    _fill(db_path).close()
    lines = tmp_path / "more.jsonl"
    lines.write_text(json.dumps({"user_id": "ana", "text": "I adore hiking"}) + "\n")
    env_db = f"sqlite:///{db_path}?mode=ro"
    for args in (
        ["add", str(lines), "--embedder", "hash"],
        ["memories", "add", "-u", "ana", "--key", "job", "--value", "nurse"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "tailored", *args, "--db", env_db],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 1, out.stderr
        assert out.stderr.strip().startswith("Error:") and "readonly" in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    with Engine(db_path, embedder=HashEmbedder()) as eng:
        assert len(eng.events("ana", limit=1000)) == 20
