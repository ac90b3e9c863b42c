"""``store.copy``: every tenant and user from one store to another, verified and resumable.

Everything is compared through the ``Store`` protocol: events (with payloads, sessions and
source ids), vectors of two models, memories with evidence, lifetimes and replacements,
the change log, summaries, extraction marks. Only the corruption test reaches past it, to
change one stored text the way a damaged target would hold it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tailored import Engine
from tailored.store import Scope, Store, open_store
from tailored.store.copy import (
    Content,
    CopyConflict,
    CopyMismatch,
    UserResult,
    copy_store,
    read_user,
    same_store,
    write_user,
)
from tailored.testing import HashEmbedder
from tailored.types import AddResult, CatalogItem, SensitiveUse

from .conftest import PostgresServer

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MODELS = ("hash-256", "other-model")
EXTRACTORS = ("auto", "rules", "llm")


def fill(store: Store) -> None:
    """Two tenants, six users (one id in both tenants, one with memories and no events),
    with everything a user can own."""
    for tenant, users in (("t1", ("ana", "bo", "cy", "dee")), ("t2", ("ana",))):
        eng = Engine(store=store, tenant=tenant, embedder=HashEmbedder())
        for n, user in enumerate(users):
            day = T0 + timedelta(days=n)
            texts = [
                f"I love sushi ({tenant})",
                "I work as a nurse",
                "I hate sushi now",
                f"Actually I work as a teacher, says {user}",
            ][: 2 + n % 3]
            eng.add(
                [
                    {
                        "user_id": user,
                        "text": text,
                        "time": (day + timedelta(hours=i)).isoformat(),
                        "role": "user" if i % 2 == 0 else "assistant",
                        "session_id": f"s{i % 2}",
                        "source_id": f"src-{i}" if i != 1 else None,
                        "payload": {"i": i, "tags": ["a", "b"], "nested": {"x": 1.5}} if i == 0 else None,
                        "kind": "message" if i else "document",
                    }
                    for i, text in enumerate(texts)
                ],
                embed=user != "cy",  # cy has no vectors of the first model
            )
            eng.extract(user)
            if user == "bo":
                memory = eng.remember(
                    user, {"kind": "fact", "key": "city", "value": "Lisbon", "text": "lives in Lisbon"}
                )
                eng.pin(user, memory.id)
                eng.correct(user, memory.id, value="Porto", text="lives in Porto")
            if user != "dee":
                eng.summarize(user, force=True)
            scope = Scope(tenant, user)
            ids = [e.id for e in store.list_events(scope)]
            other = np.arange(len(ids) * 4, dtype=np.float32).reshape(len(ids), 4) + n
            store.save_vectors(scope, ids[::2], other[::2], "other-model")
    Engine(store=store, tenant="t2", embedder=HashEmbedder()).remember(
        "eve", {"kind": "preference", "key": "tea", "value": "green tea", "polarity": "like"}
    )
    ana = Scope("t1", "ana")
    store.set_sensitive_off(ana, ["pregnancy", "medication"], at=datetime(2026, 3, 1, tzinfo=UTC))
    first_event, first_memory = store.list_events(ana)[0].id, store.memories(ana)[0].id
    store.log_sensitive_uses(
        ana,
        [
            SensitiveUse(
                at=datetime(2026, 3, 1, tzinfo=UTC),
                purpose=p,
                source=s,
                item_id=i,
                categories=["mental_health"],
                query=q,
            )
            for p, s, i, q in [("context", "event", first_event, "how am I"), ("judge", "memory", first_memory, "")]
        ],
    )
    store.create_key("k1", "t1", "hash-one", False, "app")
    store.create_key("k2", "t1", "hash-two", False, None, "ana")  # scoped to one user
    store.revoke_key("k2")
    store.put_catalog_items(
        "t1",
        [
            CatalogItem(id=f"m{i}", title=f"Film {i}", text="a quiet drama", attributes={"genres": ["Drama"]})
            for i in range(3)
        ],
    )


def snapshot(store: Store) -> dict[tuple[str, str], Content]:
    """Every user of every tenant, ids replaced by positions."""
    return {
        (tenant, u.user_id): Content.of(read_user(store, Scope(tenant, u.user_id), MODELS, EXTRACTORS))
        for tenant in store.tenants()
        for u in store.users(tenant)
    }


def copy(source: Store, target: Store, **kw: Any) -> Any:
    return copy_store(source, target, models=MODELS, extractors=EXTRACTORS, **kw)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'source.db'}")
    fill(store)
    yield store
    store.close()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Iterator[Store]:
    store = open_store(f"sqlite:///{tmp_path / 'target.db'}")
    yield store
    store.close()


def test_the_fill_has_everything_to_copy(source: Store) -> None:
    """The source exercises every part, or the equality tests below would prove little."""
    snap = snapshot(source)
    assert len(snap) == 6
    assert snap[("t2", "eve")].counts["events"] == 0 < snap[("t2", "eve")].counts["memories"]
    total = {k: sum(c.counts[k] for c in snap.values()) for k in next(iter(snap.values())).counts}
    assert all(v > 0 for v in total.values()), total
    statuses = {m[4] for c in snap.values() for m in c.memories}
    assert {"active", "superseded"} <= statuses
    assert any(m[15] is not None for c in snap.values() for m in c.memories)  # superseded_by
    assert any(m[16] for c in snap.values() for m in c.memories)  # evidence
    assert any(ch[4] is not None for c in snap.values() for ch in c.changes)  # other_id
    assert snap[("t1", "ana")].checksum != snap[("t2", "ana")].checksum


def test_sqlite_to_sqlite_copies_everything_and_a_second_run_skips(source: Store, sqlite_target: Store) -> None:
    report = copy(source, sqlite_target)
    assert snapshot(sqlite_target) == snapshot(source)
    rows = {t.tenant: t for t in report.tenants}
    assert (rows["t1"].copied, rows["t1"].skipped, rows["t2"].copied) == (4, 0, 2)
    assert rows["t1"].events == sum(len(source.list_events(Scope("t1", u))) for u in ("ana", "bo", "cy", "dee"))
    assert (rows["t1"].keys, rows["t1"].keys_skipped) == (2, 0)
    assert rows["t1"].catalog_items == 3 and sqlite_target.catalog_items("t1") == source.catalog_items("t1")
    assert sqlite_target.stored_keys("t1") == source.stored_keys("t1")  # hashes, times, revocation
    live = sqlite_target.find_key("hash-one")
    assert live is not None and live.tenant == "t1" and live.revoked_at is None and live.user_id is None
    scoped = sqlite_target.find_key("hash-two")
    assert scoped is not None and scoped.user_id == "ana"
    again = copy(source, sqlite_target)
    assert [(t.copied, t.skipped) for t in again.tenants] == [(0, 4), (0, 2)]
    assert [(t.keys, t.keys_skipped) for t in again.tenants] == [(0, 2), (0, 0)]
    assert snapshot(sqlite_target) == snapshot(source)


def test_keys_revoked_in_the_source_are_revoked_on_the_target_and_other_secrets_conflict(
    source: Store, sqlite_target: Store
) -> None:
    copy(source, sqlite_target)
    source.revoke_key("k1")
    copy(source, sqlite_target)
    found = sqlite_target.find_key("hash-one")
    assert found is not None and found.revoked_at is not None
    source.create_key("k3", "t1", "hash-three", False, None)
    sqlite_target.create_key("k3", "t1", "another-hash", False, None)
    with pytest.raises(CopyConflict, match="another API key with id 'k3'"):
        copy(source, sqlite_target)
    assert sqlite_target.find_key("hash-three") is None


def test_copied_data_keeps_its_links(source: Store, sqlite_target: Store) -> None:
    """Spot checks in target ids: evidence, replacements and marks point at the copied rows."""
    copy(source, sqlite_target)
    scope = Scope("t1", "bo")
    events = {e.id: e.text for e in sqlite_target.list_events(scope)}
    memories = sqlite_target.memories(scope)
    ids = {m.id for m in memories}
    assert all(set(m.evidence) <= set(events) for m in memories)
    assert all(m.superseded_by in ids for m in memories if m.superseded_by is not None)
    assert sqlite_target.extraction_mark(scope, "auto") == max(events)
    summary = sqlite_target.summaries(scope)[0]
    assert summary.covers_to_event == max(events)
    index = sqlite_target.user_index(scope, "other-model")
    assert int(index.has_vector.sum()) == (len(events) + 1) // 2


def test_round_trip_through_postgresql(
    source: Store, tmp_path: Path, postgres_server: PostgresServer, sqlite_target: Store
) -> None:
    pg = open_store(postgres_server.url(tmp_path, "copy"))
    try:
        copy(source, pg)
        assert snapshot(pg) == snapshot(source)
        assert pg.stored_keys("t1") == source.stored_keys("t1")
        copy(pg, sqlite_target)
        assert snapshot(sqlite_target) == snapshot(source)
        assert sqlite_target.stored_keys("t1") == source.stored_keys("t1")
        again = copy(pg, sqlite_target)
        assert sum(t.skipped for t in again.tenants) == 6
    finally:
        pg.close()


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs, no handler catches it."""


def test_a_killed_copy_resumes_to_the_same_result(source: Store, sqlite_target: Store, tmp_path: Path) -> None:
    done: list[UserResult] = []

    def kill_after_two(result: UserResult) -> None:
        done.append(result)
        if len(done) == 2:
            raise Killed

    with pytest.raises(Killed):
        copy(source, sqlite_target, on_user=kill_after_two)
    assert len(snapshot(sqlite_target)) == 2
    report = copy(source, sqlite_target)
    assert sum(t.skipped for t in report.tenants) == 2 and sum(t.copied for t in report.tenants) == 4
    clean = open_store(f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        copy(source, clean)
        assert snapshot(sqlite_target) == snapshot(clean) == snapshot(source)
    finally:
        clean.close()


class KilledMidUser:
    """A target whose process dies while a user's memories are being written."""

    def __init__(self, inner: Store, user: str) -> None:
        self.inner, self.user = inner, user

    def add_memory(self, scope: Scope, item: Any) -> int:
        if scope.user_id == self.user:
            raise Killed
        return self.inner.add_memory(scope, item)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_kill_inside_a_user_leaves_none_of_it(source: Store, sqlite_target: Store) -> None:
    target: Any = KilledMidUser(sqlite_target, "cy")
    with pytest.raises(Killed):
        copy(source, target)
    assert sqlite_target.user_stats(Scope("t1", "cy")) is None  # its events were rolled back
    assert sqlite_target.user_stats(Scope("t1", "bo")) is not None
    report = copy(source, sqlite_target)
    assert (report.tenants[0].skipped, report.tenants[0].copied, report.tenants[0].resumed) == (2, 2, 0)
    assert snapshot(sqlite_target) == snapshot(source)


def test_half_copied_users_are_erased_and_copied_again(source: Store, sqlite_target: Store) -> None:
    """What an interrupted copy would leave, written in the order a copy writes: for bo all
    events and the first memory with its first log row, for cy its first two events."""
    bo = read_user(source, Scope("t1", "bo"), MODELS, EXTRACTORS)
    bo.memories = bo.memories[:1]
    bo.changes = [c for c in bo.changes if c.memory_id == bo.memories[0].id][:1]
    bo.summaries, bo.marks = [], {}
    cy = read_user(source, Scope("t1", "cy"), MODELS, EXTRACTORS)
    cy.events = cy.events[:2]
    cy.memories, cy.changes, cy.summaries, cy.marks, cy.vectors = [], [], [], {}, {}
    for data in (bo, cy):
        with sqlite_target.transaction():
            write_user(sqlite_target, data)
    report = copy(source, sqlite_target)
    assert report.tenants[0].resumed == 2 and report.tenants[0].copied == 4
    assert snapshot(sqlite_target) == snapshot(source)


def test_other_data_under_the_same_id_is_refused_unless_replace(
    source: Store, sqlite_target: Store, tmp_path: Path
) -> None:
    """A target whose stored text changed (damage, or another user of the same id) is not
    overwritten silently: the copy stops with one line naming the user and what differs;
    ``replace=True`` erases that user in the target and copies it again."""
    copy(source, sqlite_target)
    with sqlite3.connect(tmp_path / "target.db") as conn:
        conn.execute(
            "UPDATE events SET text = 'tampered' WHERE id ="
            " (SELECT max(id) FROM events WHERE tenant = 't1' AND user_id = 'cy')"
        )
    with pytest.raises(CopyConflict, match=r"tenant 't1', user 'cy'.*events #\d differs.*--replace"):
        copy(source, sqlite_target)
    report = copy(source, sqlite_target, replace=True)
    assert report.tenants[0].replaced == 1 and report.tenants[0].skipped == 3
    assert snapshot(sqlite_target) == snapshot(source)


class Garbling:
    """A target store whose writes change event texts: the copy reads back something else."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def add_events(self, tenant: str, events: Any, *args: Any, **kw: Any) -> AddResult:
        changed = [e.model_copy(update={"text": e.text + "!"}) if e.user_id == "bo" else e for e in events]
        return self.inner.add_events(tenant, changed, *args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_verification_rolls_back_a_user_that_reads_back_wrong(source: Store, sqlite_target: Store) -> None:
    target: Any = Garbling(sqlite_target)
    with pytest.raises(CopyMismatch, match=r"user 'bo'.*events #1 differs.*rolled back"):
        copy(source, target)
    assert sqlite_target.user_stats(Scope("t1", "bo")) is None
    assert sqlite_target.user_stats(Scope("t1", "ana")) is not None  # the user before it stays


def test_a_store_is_not_copied_onto_itself(source: Store, tmp_path: Path) -> None:
    assert same_store(f"sqlite:///{tmp_path / 'source.db'}", str(tmp_path / "." / "source.db"))
    assert not same_store(str(tmp_path / "source.db"), str(tmp_path / "target.db"))
    again = open_store(str(tmp_path / "source.db"))
    try:
        with pytest.raises(Exception, match="same store"):
            copy(source, again)
    finally:
        again.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tailored", "db", "copy", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_copies_reports_and_refuses(source: Store, tmp_path: Path) -> None:
    src, dst = str(tmp_path / "source.db"), str(tmp_path / "cli.db")
    models = ["--model", "hash-256", "--model", "other-model"]
    out = cli("--from", src, "--to", dst, *models, "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [(t["tenant"], t["copied"], t["skipped"]) for t in report["tenants"]] == [("t1", 4, 0), ("t2", 2, 0)]
    assert [t["keys"] for t in report["tenants"]] == [2, 0]
    table = cli("--from", src, "--to", dst, *models)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split("\t")[:3] == ["tenant", "users copied", "users skipped"]
    assert rows[0].split("\t")[:3] == ["t1", "0", "4"]
    same = cli("--from", src, "--to", f"sqlite:///{src}")
    assert same.returncode == 1 and same.stderr.strip() == "Error: the source and the target are the same store"
    missing = cli("--from", str(tmp_path / "nothing.db"), "--to", dst)
    assert missing.returncode == 1 and "no store at" in missing.stderr


def test_cli_default_models_name_the_installed_embedders() -> None:
    from tailored.cli.db import embedding_models

    assert {"all-MiniLM-L6-v2", "hash-256"} <= set(embedding_models())


def test_a_tenant_with_only_a_catalogue_is_listed_and_copied(source: Store, sqlite_target: Store) -> None:
    source.put_catalog_items("t9", [CatalogItem(id="x", title="Only item")])
    assert "t9" in source.tenants()
    report = copy(source, sqlite_target)
    assert {t.tenant: t.catalog_items for t in report.tenants}["t9"] == 1
    assert sqlite_target.catalog_items("t9") == source.catalog_items("t9") and "t9" in sqlite_target.tenants()
