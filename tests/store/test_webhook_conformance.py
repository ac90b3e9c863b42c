"""The webhook outbox on every backend: registrations, enqueueing in the change's own
transaction, leases, the delivery log, replay, and what an erase leaves of queued payloads.

Everything goes through the ``Store`` protocol (see conftest.py for the backends), except
the bytes-on-disk check of erase.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tailored.errors import InvalidInput, NotFound
from tailored.store import Scope, Store, open_store
from tailored.store.outbox import StoredWebhook, Webhook

from .conftest import Backend
from .test_conformance import ANA, BO, T0, ev, mem

ALL = ["memory.created", "memory.updated", "memory.superseded", "memory.deleted", "user.erased"]


def hook(store: Store, hook_id: str = "wh_1", tenant: str = "t1", events: list[str] | None = None) -> None:
    webhook = Webhook.model_validate(
        {"id": hook_id, "tenant": tenant, "url": "http://127.0.0.1:9/x", "events": events or ALL, "created_at": T0}
    )
    assert store.add_webhook(StoredWebhook(webhook, "s3cret-" + hook_id))


def claim(store: Store, owner: str = "w1", at: datetime | None = None, limit: int = 100) -> list:  # type: ignore[type-arg]
    return store.claim_deliveries(owner, now=at or datetime.now(UTC), lease_s=30.0, limit=limit)


def test_a_change_is_enqueued_only_for_tenants_with_a_subscribed_webhook(store: Store) -> None:
    mid = store.add_memory(ANA, mem("drink", "tea"))
    store.log_change(ANA, mid, "created", at=T0, detail="before any webhook")
    assert claim(store) == []
    hook(store, "wh_1")
    hook(store, "wh_del", events=["memory.deleted"])
    hook(store, "wh_t2", tenant="t2")
    store.log_change(ANA, mid, "merged", at=T0, detail="again")
    store.log_change(ANA, mid, "conflict", at=T0, detail="a note: announces nothing")
    due = claim(store)
    assert [(d.webhook_id, d.event_type) for d in due] == [("wh_1", "memory.updated")]
    body = json.loads(due[0].body)
    assert body["type"] == "memory.updated" and body["tenant"] == "t1" and body["user_id"] == "ana"
    assert body["id"] == due[0].event_id
    assert body["data"]["memory"]["value"] == "tea" and body["data"]["change"]["action"] == "merged"
    assert due[0].secret == "s3cret-wh_1" and due[0].attempts == 0


def test_the_event_rolls_back_with_the_change(store: Store) -> None:
    hook(store)
    mid = store.add_memory(ANA, mem("drink", "tea"))
    with pytest.raises(RuntimeError), store.transaction():
        store.log_change(ANA, mid, "deleted", at=T0)
        raise RuntimeError("the change fails after its log row")
    assert claim(store) == [] and store.deliveries("t1") == []
    with store.transaction():
        store.log_change(ANA, mid, "deleted", at=T0)
    assert [d.event_type for d in claim(store)] == ["memory.deleted"]


def test_another_users_memory_id_enqueues_nothing(store: Store) -> None:
    hook(store)
    mid = store.add_memory(BO, mem("drink", "coffee"))
    store.log_change(ANA, mid, "created", at=T0)
    assert claim(store) == []


def test_a_lease_is_held_by_one_worker_until_it_runs_out(store: Store) -> None:
    hook(store)
    mid = store.add_memory(ANA, mem("drink", "tea"))
    store.log_change(ANA, mid, "created", at=T0)
    now = datetime.now(UTC) + timedelta(seconds=1)
    first = claim(store, "w1", now)
    assert len(first) == 1
    assert claim(store, "w2", now) == []  # leased to w1
    assert not store.finish_delivery(
        first[0].id, "w2", at=now, delivered=True, status_code=200, error=None, retry_at=None
    )
    again = claim(store, "w2", now + timedelta(seconds=31))  # w1's lease ran out
    assert [d.id for d in again] == [first[0].id]
    # w1 comes back late: the delivery is w2's now, and w1's result is not recorded.
    assert not store.finish_delivery(
        first[0].id, "w1", at=now, delivered=True, status_code=200, error=None, retry_at=None
    )
    assert store.finish_delivery(again[0].id, "w2", at=now, delivered=True, status_code=204, error=None, retry_at=None)
    [row] = store.deliveries("t1")
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 204)


def test_concurrent_workers_never_claim_one_delivery_twice(store: Store) -> None:
    hook(store)
    for i in range(40):
        mid = store.add_memory(ANA, mem(f"k{i}", f"v{i}"))
        store.log_change(ANA, mid, "created", at=T0)
    stores = [open_store(store.url) for _ in range(4)]  # four workers, four connections
    got: list[list[int]] = [[] for _ in stores]
    now = datetime.now(UTC) + timedelta(seconds=1)

    def work(n: int) -> None:
        while batch := stores[n].claim_deliveries(f"w{n}", now=now, lease_s=60.0, limit=3):
            got[n].extend(d.id for d in batch)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    claimed = [i for ids in got for i in ids]
    assert len(claimed) == 40 and len(set(claimed)) == 40


def test_retries_failures_log_and_replay(store: Store) -> None:
    hook(store)
    mid = store.add_memory(ANA, mem("drink", "tea"))
    store.log_change(ANA, mid, "created", at=T0)
    now = datetime.now(UTC) + timedelta(seconds=1)
    [d] = claim(store, at=now)
    later = now + timedelta(seconds=10)
    assert store.finish_delivery(d.id, "w1", at=now, delivered=False, status_code=500, error="HTTP 500", retry_at=later)
    assert claim(store, at=now + timedelta(seconds=5)) == []  # not due yet
    [d2] = claim(store, at=later)
    assert d2.id == d.id and d2.attempts == 1 and d2.body == d.body  # the same bytes on every attempt
    assert store.finish_delivery(
        d.id, "w1", at=later, delivered=False, status_code=None, error="timed out", retry_at=None
    )
    [row] = store.deliveries("t1", status="failed")
    assert (row.attempts, row.last_status_code, row.last_error) == (2, None, "timed out")
    with pytest.raises(NotFound):
        store.replay_deliveries("t2", row.id, at=later)  # another tenant's delivery
    new = store.replay_deliveries("t1", None, at=later)
    assert len(new) == 1 and store.replay_deliveries("t1", None, at=later) == []  # replayed once
    with pytest.raises(InvalidInput):
        store.replay_deliveries("t1", new[0], at=later)  # still pending
    [d3] = claim(store, at=later)
    assert d3.id == new[0] and d3.attempts == 0 and d3.body == d.body
    assert [r.status for r in store.deliveries("t1")] == ["replayed", "pending"]


def test_removing_a_webhook_drops_its_queue_and_log(store: Store) -> None:
    hook(store, "wh_1")
    hook(store, "wh_2")
    mid = store.add_memory(ANA, mem("drink", "tea"))
    store.log_change(ANA, mid, "created", at=T0)
    assert not store.remove_webhook("t2", "wh_1")  # not t2's
    assert store.remove_webhook("t1", "wh_1")
    assert [w.id for w in store.webhooks("t1")] == ["wh_2"]
    assert [d.webhook_id for d in store.deliveries("t1")] == ["wh_2"]
    assert [s.secret for s in store.stored_webhooks("t1")] == ["s3cret-wh_2"]
    assert store.webhooks("t2") == []


def test_erase_removes_the_users_payloads_and_announces_ids_only(
    store: Store, backend: Backend, tmp_path: Path
) -> None:
    marker = "zanzibarquokka"
    hook(store)
    ids = store.add_events("t1", [ev("ana", f"my {marker}")]).added
    mid = store.add_memory(ANA, mem("secret", marker, evidence=ids, text=f"knows {marker}"))
    store.log_change(ANA, mid, "created", at=T0, detail=marker)
    now = datetime.now(UTC) + timedelta(seconds=1)
    [delivered] = claim(store, at=now)
    store.finish_delivery(delivered.id, "w1", at=now, delivered=True, status_code=200, error=None, retry_at=None)
    store.log_change(ANA, mid, "deleted", at=T0, detail=marker)  # queued, not sent yet
    bo = store.add_memory(BO, mem("drink", "coffee"))
    store.log_change(BO, bo, "created", at=T0)
    assert store.erase_user(ANA) == 1
    log = store.deliveries("t1")
    assert [(d.user_id, d.event_type) for d in log] == [("bo", "memory.created"), ("ana", "user.erased")]
    due = claim(store, at=now)
    erased = next(json.loads(d.body) for d in due if d.event_type == "user.erased")
    assert erased["user_id"] == "ana" and erased["data"] == {"events_removed": 1}
    assert marker not in json.dumps(erased)
    assert marker.encode() not in backend.raw_bytes(tmp_path)


def test_an_erase_without_webhooks_enqueues_nothing(store: Store) -> None:
    store.add_events("t1", [ev("ana", "hi")])
    store.erase_user(ANA)
    hook(store, tenant="t2")
    store.erase_user(Scope("t1", "bo"))
    assert store.deliveries("t1") == [] and claim(store) == []


def test_db_copy_carries_registrations_not_the_queue_and_announces_nothing(
    store: Store, fresh_url: Callable[[str], str]
) -> None:
    from tailored.store.copy import copy_store

    hook(store)
    store.add_events("t1", [ev("ana", "hi")])
    mid = store.add_memory(ANA, mem("drink", "tea"))
    store.log_change(ANA, mid, "created", at=T0)
    assert len(store.deliveries("t1")) == 1
    target = open_store(fresh_url("target"))
    try:
        report = copy_store(store, target, models=["m"])
        assert (report.tenants[0].webhooks, report.tenants[0].webhooks_skipped) == (1, 0)
        assert target.stored_webhooks("t1") == store.stored_webhooks("t1")
        assert target.deliveries("t1") == [] and [m.value for m in target.memories(ANA)] == ["tea"]
        again = copy_store(store, target, models=["m"])
        assert (again.tenants[0].webhooks, again.tenants[0].webhooks_skipped) == (0, 1)
    finally:
        target.close()
