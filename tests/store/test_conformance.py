"""The store conformance suite: every backend passes every test here (see conftest.py).

Tiny synthetic users whose right answer is obvious. Everything goes through the ``Store``
protocol, never a backend's internals, except the bytes-on-disk check of erase.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tailored import Engine
from tailored.errors import TailoredError
from tailored.store import EventFilter, NewMemory, Scope, Store, StoredKey
from tailored.testing import HashEmbedder
from tailored.types import EventIn, SensitiveUse

from .conftest import Backend

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANA = Scope("t1", "ana")
BO = Scope("t1", "bo")
ANA_T2 = Scope("t2", "ana")  # the same user id in another tenant: a different person


def ev(user: str, text: str, day: int = 0, **kw: object) -> EventIn:
    return EventIn.model_validate({"user_id": user, "text": text, "time": T0 + timedelta(days=day), **kw})


def mem(key: str, value: str, day: int = 0, **kw: object) -> NewMemory:
    fields: dict[str, object] = {
        "kind": "preference",
        "key": key,
        "value": value,
        "polarity": "like",
        "strength": 0.5,
        "confidence": 0.6,
        "multi": False,
        "text": f"likes {value}",
        "source": "rules",
        "valid_from": T0 + timedelta(days=day),
        "created_at": T0 + timedelta(days=day),
    }
    fields.update(kw)
    return NewMemory(**fields)  # type: ignore[arg-type]


# -- events ------------------------------------------------------------------------------


def test_events_come_back_in_id_order_with_filters_and_pages(store: Store) -> None:
    added = store.add_events(
        "t1",
        [
            ev("ana", "first", 0, kind="message", session_id="s1"),
            ev("ana", "second", 1, kind="click", session_id="s2"),
            ev("ana", "third", 2, kind="message", session_id="s1"),
            ev("bo", "not ana's", 1),
        ],
    ).added
    assert len(added) == 4 and added == sorted(added)
    texts = [e.text for e in store.list_events(ANA)]
    assert texts == ["first", "second", "third"]
    assert [e.text for e in store.list_events(ANA, EventFilter(kinds=("message",)))] == ["first", "third"]
    assert [e.text for e in store.list_events(ANA, EventFilter(session_id="s2"))] == ["second"]
    window = EventFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
    assert [e.text for e in store.list_events(ANA, window)] == ["second"]
    page = store.list_events(ANA, limit=2)
    assert [e.text for e in store.list_events(ANA, after_id=page[-1].id)] == ["third"]
    assert [e.text for e in store.get_events(ANA, [added[2], added[3], added[0]])] == ["third", "first"]


def test_a_stored_source_id_is_a_duplicate_in_later_and_the_same_batch(store: Store) -> None:
    first = store.add_events("t1", [ev("ana", "a", source_id="x1"), ev("ana", "b", source_id="x2")])
    again = store.add_events("t1", [ev("ana", "a", source_id="x1"), ev("ana", "c", source_id="x3")] * 2)
    assert (len(first.added), first.duplicates) == (2, 0)
    assert (len(again.added), again.duplicates) == (1, 3)
    other_user = store.add_events("t1", [ev("bo", "a", source_id="x1")])
    assert len(other_user.added) == 1  # source ids are per user
    ids = store.event_ids_by_source(ANA, ["x1", "x3", "nope"])
    assert set(ids) == {"x1", "x3"} and ids["x1"] == first.added[0]


def test_vectors_are_stored_per_model_and_only_on_the_users_own_events(store: Store) -> None:
    vecs = np.eye(3, dtype=np.float32)
    ana = store.add_events("t1", [ev("ana", "a", 0), ev("ana", "b", 1)], vecs[:2], "m").added
    bo = store.add_events("t1", [ev("bo", "c")]).added
    data = store.user_index(ANA, "m")
    assert list(data.ids) == ana and data.has_vector.all()
    assert np.allclose(data.vectors, vecs[:2]) and data.texts == ["a", "b"]
    assert not store.user_index(ANA, "other").has_vector.any()
    store.save_vectors(ANA, [bo[0]], vecs[2:], "m")  # bo's event: ignored, never linked
    assert not store.user_index(BO, "m").has_vector.any()
    store.save_vectors(BO, bo, vecs[2:], "m")
    assert store.user_index(BO, "m").has_vector.all()
    assert list(store.user_index(ANA, "m", after_id=ana[0]).ids) == ana[1:]


def test_the_user_version_changes_with_every_add(store: Store) -> None:
    assert store.user_version(ANA)[:2] == (0, 0)
    ids = store.add_events("t1", [ev("ana", "a")]).added
    v1 = store.user_version(ANA)
    assert v1[:2] == (1, ids[0])
    store.add_events("t1", [ev("ana", "b")])
    assert store.user_version(ANA) != v1
    assert store.user_version(ANA, up_to_id=ids[0]) == v1
    assert store.user_index(ANA, "m").version == store.user_version(ANA)


# -- users, stats, isolation ---------------------------------------------------------------


def test_users_and_stats_count_only_the_tenant_and_include_users_without_events(store: Store) -> None:
    store.add_events("t1", [ev("ana", "a", 0), ev("ana", "b", 3), ev("bo", "c")])
    store.add_events("t2", [ev("ana", "elsewhere")])
    store.add_memory(Scope("t1", "cy"), mem("tea", "green tea"))  # memories only
    store.add_summary(Scope("t1", "di"), "general", "a summary", 0, 0, T0)  # a summary only
    users = store.users("t1")
    assert [u.user_id for u in users] == ["ana", "bo", "cy", "di"]
    assert (users[0].events, users[0].first, users[0].last) == (2, T0, T0 + timedelta(days=3))
    assert (users[2].events, users[2].first) == (0, None)
    assert [u.user_id for u in store.users("t1", after="bo", limit=1)] == ["cy"]
    assert store.user_stats(Scope("t1", "cy")) is not None and store.user_stats(Scope("t1", "zed")) is None
    stats = store.stats("t1")
    assert (stats.users, stats.events) == (4, 3) and stats.tenant_bytes > 0
    assert store.stats("t2").events == 1 and store.stats("t3").users == 0
    assert set(store.tenants()) == {"t1", "t2"}


def test_no_read_crosses_a_tenant_or_user(store: Store) -> None:
    ids = store.add_events("t1", [ev("ana", "mine")]).added
    mid = store.add_memory(ANA, mem("tea", "green tea", evidence=ids))
    store.add_summary(ANA, "general", "ana likes tea", ids[0], 1, T0)
    for other in (ANA_T2, BO):
        assert store.list_events(other) == [] and store.get_events(other, ids) == []
        assert store.memories(other) == [] and store.memory(other, mid) is None
        assert store.memory_log(other) == [] and store.summaries(other) == []
        assert store.event_ids_by_source(other, ["x"]) == {}
        assert len(store.user_index(other, "m").ids) == 0
    # Writes through another scope do not reach ana's memory.
    store.close_memory(BO, mid, status="deleted", valid_to=T0, at=T0)
    store.set_pinned(BO, mid, True, at=T0)
    store.log_change(BO, mid, "edited", at=T0, detail="not yours")
    m = store.memory(ANA, mid)
    assert m is not None and m.status == "active" and not m.pinned
    assert [c.action for c in store.memory_log(ANA)] == []


# -- memories ---------------------------------------------------------------------------


def test_a_memory_round_trips_with_its_evidence_limited_to_the_users_events(store: Store) -> None:
    ana = store.add_events("t1", [ev("ana", "I like green tea")]).added
    bo = store.add_events("t1", [ev("bo", "hers")]).added
    mid = store.add_memory(ANA, mem("tea", "green tea", evidence=[*ana, *bo], confidence=0.7))
    m = store.memory(ANA, mid)
    assert m is not None
    assert (m.kind, m.key, m.value, m.polarity, m.confidence, m.status, m.pinned) == (
        "preference",
        "tea",
        "green tea",
        "like",
        0.7,
        "active",
        False,
    )
    assert m.evidence == ana and m.valid_from == T0 and m.valid_to is None


def test_memories_filter_by_kind_key_status_and_time(store: Store) -> None:
    old = store.add_memory(ANA, mem("tea", "green tea", 0))
    new = store.add_memory(ANA, mem("tea", "black tea", 10))
    fact = store.add_memory(ANA, mem("job", "nurse", 0, kind="fact", polarity=None))
    store.close_memory(ANA, old, status="superseded", valid_to=T0 + timedelta(days=10), at=T0, by=new)
    assert [m.id for m in store.memories(ANA)] == [old, fact, new]  # by valid_from, then id
    assert [m.id for m in store.memories(ANA, kind="fact")] == [fact]
    assert [m.id for m in store.memories(ANA, key="tea", statuses=["active"])] == [new]
    in_between = store.memories(ANA, as_of=T0 + timedelta(days=5))
    assert [m.id for m in in_between] == [old, fact]
    closed = store.memory(ANA, old)
    assert closed is not None and closed.superseded_by == new and closed.status == "superseded"


def test_reinforce_pin_supersede_and_the_change_log(store: Store) -> None:
    ids = store.add_events("t1", [ev("ana", "tea"), ev("ana", "tea again")]).added
    mid = store.add_memory(ANA, mem("tea", "green tea", 5, evidence=ids[:1]))
    store.reinforce(ANA, mid, confidence=0.9, strength=0.8, evidence=ids[1:], at=T0, valid_from=T0)
    store.set_pinned(ANA, mid, True, at=T0)
    other = store.add_memory(ANA, mem("coffee", "espresso"))
    store.set_superseded_by(ANA, mid, other)
    store.link_evidence(ANA, other, ids)
    store.log_change(ANA, mid, "merged", at=T0, detail="confirmed")
    store.log_change(ANA, mid, "pinned", at=T0 + timedelta(seconds=1), other_id=other)
    m = store.memory(ANA, mid)
    assert m is not None
    assert (m.confidence, m.strength, m.valid_from, m.pinned, m.superseded_by) == (0.9, 0.8, T0, True, other)
    assert m.evidence == ids
    assert [(c.action, c.detail, c.other_id) for c in store.memory_log(ANA, mid)] == [
        ("merged", "confirmed", None),
        ("pinned", "", other),
    ]
    assert len(store.memory_log(ANA)) == 2
    linked = store.memory(ANA, other)
    assert linked is not None and linked.evidence == ids


def test_the_extraction_mark_moves_only_from_where_it_was(store: Store) -> None:
    assert store.extraction_mark(ANA, "rules") == 0
    assert store.advance_mark(ANA, "rules", expected=0, new=5)
    assert not store.advance_mark(ANA, "rules", expected=0, new=9)  # someone moved it first
    assert store.extraction_mark(ANA, "rules") == 5 and store.extraction_mark(ANA, "llm") == 0
    assert store.extraction_mark(BO, "rules") == 0


def test_summaries_keep_history_and_give_the_latest_per_task(store: Store) -> None:
    store.add_summary(ANA, "general", "old", 1, 1, T0)
    store.add_summary(ANA, "food", "food one", 1, 1, T0)
    latest = store.add_summary(ANA, "general", "new", 2, 2, T0 + timedelta(days=1))
    assert [s.text for s in store.summaries(ANA)] == ["food one", "new"]
    assert [s.text for s in store.summaries(ANA, task="general", latest=False)] == ["old", "new"]
    assert store.summaries(ANA, task="general")[0].id == latest.id


# -- keys -------------------------------------------------------------------------------


def test_keys_are_found_by_hash_listed_by_tenant_and_revoked_once(store: Store) -> None:
    k1 = store.create_key("k1", "t1", "hash1", False, "app")
    store.create_key("k2", "t2", "hash2", False, None)
    assert store.find_key("hash1") == k1 and store.find_key("nope") is None
    assert [k.id for k in store.list_keys("t1")] == ["k1"] and len(store.list_keys()) == 2
    assert not store.revoke_key("k1", tenant="t2")  # not that tenant's key
    assert store.revoke_key("k1") and not store.revoke_key("k1")
    found = store.find_key("hash1")
    assert found is not None and found.revoked_at is not None
    with pytest.raises(TailoredError):
        store.create_key("k3", "t1", "hash1", False, None)  # one hash, one key


def test_stored_keys_restore_exactly_once(store: Store) -> None:
    store.create_key("k1", "t1", "hash1", True, "ops")
    store.create_key("k2", "t1", "hash2", False, None)
    store.revoke_key("k2")
    kept = store.stored_keys("t1")
    assert [(k.key.id, k.key_hash) for k in kept] == [("k1", "hash1"), ("k2", "hash2")]
    assert store.stored_keys("t2") == []
    assert not store.restore_key(kept[0])  # present: unchanged
    moved = StoredKey(kept[1].key.model_copy(update={"id": "k9", "tenant": "t2"}), "hash9")
    assert store.restore_key(moved)
    assert store.stored_keys("t2") == [moved]  # times and revocation as given
    assert store.find_key("hash9") == moved.key


def test_a_user_scoped_key_keeps_its_user_through_every_read_and_a_restore(store: Store) -> None:
    scoped = store.create_key("k1", "t1", "hash1", False, "ana's agent", "ana")
    store.create_key("k2", "t1", "hash2", False, None)
    assert scoped.user_id == "ana" and store.find_key("hash1") == scoped
    assert [k.user_id for k in store.list_keys("t1")] == ["ana", None]
    (kept, _) = store.stored_keys("t1")
    assert kept.key.user_id == "ana"
    moved = StoredKey(kept.key.model_copy(update={"id": "k9", "tenant": "t2"}), "hash9")
    assert store.restore_key(moved)
    found = store.find_key("hash9")
    assert found is not None and (found.tenant, found.user_id) == ("t2", "ana")


def test_erasing_a_user_removes_the_keys_scoped_to_them_only(store: Store) -> None:
    store.add_events("t1", [ev("ana", "hello"), ev("bo", "hi")])
    store.create_key("k1", "t1", "hash1", False, None, "ana")
    store.create_key("k2", "t1", "hash2", False, None, "bo")
    store.create_key("k3", "t1", "hash3", False, None)
    store.create_key("k4", "t2", "hash4", False, None, "ana")  # another tenant's ana
    store.erase_user(ANA)
    assert store.find_key("hash1") is None
    assert [k.id for k in store.list_keys()] == ["k2", "k3", "k4"]


# -- transactions, schema ----------------------------------------------------------------


def test_a_failed_transaction_leaves_nothing_and_a_failed_inner_one_only_its_part(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.add_events("t1", [ev("ana", "lost")])
        store.add_memory(ANA, mem("tea", "lost tea"))
        raise RuntimeError("boom")
    assert store.list_events(ANA) == [] and store.memories(ANA) == []
    with store.transaction():
        store.add_events("t1", [ev("ana", "kept")])
        with pytest.raises(RuntimeError), store.transaction():
            store.add_events("t1", [ev("ana", "undone")])
            raise RuntimeError("inner")
    assert [e.text for e in store.list_events(ANA)] == ["kept"]


def test_a_fresh_store_has_nothing_to_migrate_and_checks_ok(store: Store) -> None:
    assert store.migrate(dry_run=True) == [] and store.migrate() == []
    assert store.integrity_check() == "ok"


# -- erase, export, as-of -----------------------------------------------------------------


def test_erase_leaves_no_trace_in_any_read_nor_on_disk(store: Store, backend: Backend, tmp_path: Path) -> None:
    marker = "zanzibarquokka"
    vec = np.ones((1, 4), dtype=np.float32)
    ids = store.add_events("t1", [ev("ana", f"my secret {marker}", payload={"note": marker})], vec, "m").added
    mid = store.add_memory(ANA, mem("secret", marker, evidence=ids, text=f"knows {marker}"))
    store.log_change(ANA, mid, "created", at=T0, detail=marker)
    store.add_summary(ANA, "general", f"summary {marker}", ids[0], 1, T0)
    store.advance_mark(ANA, "rules", expected=0, new=ids[0])
    store.set_sensitive_off(ANA, ["medication"], at=T0)
    use = SensitiveUse(
        at=T0, purpose="context", source="event", item_id=ids[0], categories=["medication"], query=marker
    )
    store.log_sensitive_uses(ANA, [use])
    store.add_events("t1", [ev("bo", "bo stays")])
    assert store.erase_user(ANA) == 1
    assert store.user_stats(ANA) is None and [u.user_id for u in store.users("t1")] == ["bo"]
    assert store.list_events(ANA) == [] and store.memories(ANA) == [] and store.summaries(ANA) == []
    assert store.memory_log(ANA) == [] and store.extraction_mark(ANA, "rules") == 0
    assert store.sensitive_off(ANA) == [] and store.sensitive_uses(ANA) == []
    assert len(store.user_index(ANA, "m").ids) == 0
    assert [e.text for e in store.list_events(BO)] == ["bo stays"]
    assert marker.encode() not in backend.raw_bytes(tmp_path)


def test_export_and_import_round_trip_through_the_engine(store: Store) -> None:
    eng = Engine(store=store, tenant="t1", embedder=HashEmbedder())
    eng.add([{"user_id": "ana", "role": "user", "text": "I love green tea", "source_id": "s1"}])
    eng.add([{"user_id": "ana", "role": "user", "text": "I am a nurse"}])
    eng.profile("ana")
    eng.summarize("ana", min_new_events=0, force=True)
    exported = eng.export("ana")
    assert exported.memories and exported.changes and exported.summaries
    other = eng.for_tenant("t2")
    other.import_user(exported)
    again = other.export("ana")
    assert [e.text for e in again.events] == [e.text for e in exported.events]
    strip = {"id", "tenant", "evidence", "superseded_by"}
    assert [m.model_dump(exclude=strip) for m in again.memories] == [
        m.model_dump(exclude=strip) for m in exported.memories
    ]
    assert [(c.action, c.detail) for c in again.changes] == [(c.action, c.detail) for c in exported.changes]
    assert [s.text for s in again.summaries] == [s.text for s in exported.summaries]
    # Evidence points at the new copies of the same events.
    texts = {e.id: e.text for e in again.events}
    old_texts = {e.id: e.text for e in exported.events}
    assert [[texts[i] for i in m.evidence] for m in again.memories] == [
        [old_texts[i] for i in m.evidence] for m in exported.memories
    ]


def test_as_of_reads_through_the_engine_show_the_past_profile(store: Store) -> None:
    eng = Engine(store=store, tenant="t1", embedder=HashEmbedder())
    eng.add({"user_id": "ana", "role": "user", "text": "I love sushi", "time": T0.isoformat()})
    eng.add({"user_id": "ana", "role": "user", "text": "I hate sushi", "time": (T0 + timedelta(days=30)).isoformat()})
    now = eng.profile("ana")
    then = eng.profile("ana", as_of=T0 + timedelta(days=1))
    assert [m.polarity for m in now.preferences] == ["dislike"]
    assert [m.polarity for m in then.preferences] == ["like"]
