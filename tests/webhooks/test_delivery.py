"""Delivery to a real HTTP receiver on loopback: signed bodies, retries of a receiver
that fails (500s, timeouts) and recovers, giving up and replaying, a restart with pending
deliveries, and what an erase leaves in the queue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tailored import Engine
from tailored.errors import InvalidInput
from tailored.testing import HashEmbedder
from tailored.webhooks import Deliverer, DeliveryReport, DeliveryWorker, RetryPolicy, Webhooks, check_url, verify

from .receiver import receiving

FAST = RetryPolicy(base_s=0.05, factor=2.0, max_attempts=4, jitter=0.0)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(tmp_path / "hooks.db", tenant="acme", embedder=HashEmbedder())
    yield eng
    eng.close()


def deliverer(engine: Engine, **kw: object) -> Deliverer:
    options: dict[str, object] = {"policy": FAST, "timeout_s": 0.5, "allow_private": True, **kw}
    return Deliverer(engine.store, **options)  # type: ignore[arg-type]


def drain(d: Deliverer, done: Callable[[], bool], timeout: float = 20.0) -> DeliveryReport:
    """Run the deliverer (as a worker would) until ``done`` or ``timeout``."""
    total = DeliveryReport()
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the deliveries did not finish"
        total.add(d.run_once())
        time.sleep(0.02)
    return total


def test_events_arrive_signed_in_the_order_of_the_changes(engine: Engine) -> None:
    with receiving() as rx:
        _, secret = Webhooks(engine.store, allow_private=True).add("acme", rx.url)
        first = engine.remember("ana", {"kind": "preference", "key": "drink", "value": "tea", "polarity": "like"})
        engine.pin("ana", first.id)
        fixed = engine.correct("ana", first.id, value="green tea")
        engine.forget("ana", fixed.id)
        with deliverer(engine) as d:
            d.run_until_idle()
        got = rx.wait_ok(5)
    bodies = sorted((r.json for r in got), key=lambda b: int(b["id"].removeprefix("evt_")))
    assert [(b["type"], b["data"]["memory"]["id"]) for b in bodies] == [
        ("memory.created", first.id),
        ("memory.updated", first.id),  # pinned
        ("memory.created", fixed.id),  # the correction
        ("memory.superseded", first.id),  # replaced by it
        ("memory.deleted", fixed.id),
    ]
    assert bodies[2]["data"]["memory"]["value"] == "green tea" and bodies[3]["data"]["memory"]["status"] == "superseded"
    for r in got:
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["Tailored-Event-Id"] == r.json["id"] and r.headers["Tailored-Event-Type"] == r.json["type"]
        assert verify(secret, r.headers["Tailored-Signature"], r.body)
        assert not verify(secret, r.headers["Tailored-Signature"], r.body.replace(b"tea", b"tee"))
        assert not verify("whsec_another_secret", r.headers["Tailored-Signature"], r.body)
    assert all(b["tenant"] == "acme" and b["user_id"] == "ana" for b in bodies)


def test_a_receiver_that_fails_then_recovers_gets_the_event_after_retries(engine: Engine) -> None:
    with receiving(500, "hang", 503) as rx:
        rx.hang_s = 1.5
        Webhooks(engine.store, allow_private=True).add("acme", rx.url, events=["memory.created"])
        engine.remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
        with deliverer(engine) as d:
            report = drain(d, lambda: len(rx.ok) == 1)
        [row] = engine.store.deliveries("acme")
    assert (report.delivered, report.retrying) == (1, 3)
    assert (row.status, row.attempts, row.last_status_code, row.last_error) == ("delivered", 4, 200, None)
    assert len(rx.got) == 4 and len({r.body for r in rx.got}) == 1  # the same body on every attempt


def test_a_delivery_fails_after_the_last_attempt_and_a_replay_delivers_it(engine: Engine) -> None:
    with receiving(default=500) as rx:
        hooks = Webhooks(engine.store, allow_private=True)
        hooks.add("acme", rx.url, events=["memory.created"])
        engine.remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
        with deliverer(engine) as d:
            report = drain(d, lambda: bool(engine.store.deliveries("acme", status="failed")))
            [failed] = hooks.deliveries("acme", status="failed")
            assert (failed.attempts, failed.last_status_code) == (FAST.max_attempts, 500)
            assert failed.last_error is not None and failed.last_error.startswith("HTTP 500")
            assert report.failed == 1 and len(rx.got) == FAST.max_attempts
            rx.default = 204  # the receiver is fixed
            [new] = hooks.replay("acme")
            assert hooks.replay("acme") == []  # a failed delivery is replayed once
            drain(d, lambda: len(rx.ok) == 1)
    log = {row.id: row for row in hooks.deliveries("acme")}
    assert (log[failed.id].status, log[new].status, log[new].last_status_code) == ("replayed", "delivered", 204)
    assert rx.got[0].body == rx.ok[0].body


def test_pending_deliveries_survive_a_restart_of_the_worker_and_the_store(tmp_path: Path) -> None:
    path = tmp_path / "hooks.db"
    with receiving(default=500) as rx:
        engine = Engine(path, tenant="acme", embedder=HashEmbedder())
        Webhooks(engine.store, allow_private=True).add("acme", rx.url)
        for city in ("Lisbon", "Porto", "Faro"):
            engine.remember("ana", {"kind": "fact", "key": city.lower(), "value": city})
        slow = RetryPolicy(base_s=0.2, max_attempts=50, jitter=0.0)
        worker = DeliveryWorker(deliverer(engine, policy=slow), poll_s=0.05)
        worker.start()
        deadline = time.monotonic() + 10
        while len(rx.got) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.stop()
        engine.close()
        assert len(rx.got) >= 3 and rx.ok == []
        rx.default = 200  # the receiver recovers while the server is down
        engine = Engine(path, tenant="acme", embedder=HashEmbedder())
        pending = engine.store.deliveries("acme", status="pending")
        assert len(pending) == 3 and all(p.attempts >= 1 for p in pending)
        worker = DeliveryWorker(deliverer(engine, policy=slow), poll_s=0.05)
        worker.start()
        got = rx.wait_ok(3)
        worker.stop()
        assert {r.json["data"]["memory"]["value"] for r in got} == {"Lisbon", "Porto", "Faro"}
        assert [d.status for d in engine.store.deliveries("acme")] == ["delivered"] * 3
        engine.close()


def test_an_erase_leaves_no_queued_payload_of_the_user(engine: Engine, tmp_path: Path) -> None:
    marker = "quokkaberry"
    with receiving() as rx:
        Webhooks(engine.store, allow_private=True).add("acme", rx.url)
        engine.add([{"user_id": "ana", "text": f"I love {marker} jam"}, {"user_id": "bo", "text": "I love tea"}])
        engine.remember("ana", {"kind": "preference", "key": "jam", "value": marker, "polarity": "like"})
        engine.remember("bo", {"kind": "preference", "key": "drink", "value": "tea", "polarity": "like"})
        queued = engine.store.deliveries("acme")
        assert {d.user_id for d in queued} == {"ana", "bo"}
        engine.erase("ana")
        assert marker.encode() not in (tmp_path / "hooks.db").read_bytes()
        log = engine.store.deliveries("acme")
        assert [(d.user_id, d.event_type) for d in log if d.user_id == "ana"] == [("ana", "user.erased")]
        with deliverer(engine) as d:
            d.run_until_idle()
        got = rx.wait_ok(2)
    erased = next(r.json for r in got if r.json["type"] == "user.erased")
    assert erased["user_id"] == "ana" and erased["data"] == {"events_removed": 1}
    assert all(marker not in r.body.decode() for r in got)


def test_urls_are_checked() -> None:
    with pytest.raises(InvalidInput, match="http"):
        check_url("ftp://example.com/x")
    with pytest.raises(InvalidInput, match="credentials"):
        check_url("https://user:pw@example.com/x")
    for private in ("http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x", "http://[::1]/x"):
        with pytest.raises(InvalidInput, match="non-public"):
            check_url(private)
    assert check_url("http://127.0.0.1:9/x", allow_private=True) == "http://127.0.0.1:9/x"
    assert check_url("https://93.184.215.14/x") == "https://93.184.215.14/x"  # a public address, not resolved


def test_registrations_are_checked_and_per_tenant(engine: Engine) -> None:
    hooks = Webhooks(engine.store, allow_private=True)
    with pytest.raises(InvalidInput, match="unknown webhook events"):
        hooks.add("acme", "http://127.0.0.1:9/x", events=["memory.exploded"])
    with pytest.raises(InvalidInput, match="secret"):
        hooks.add("acme", "http://127.0.0.1:9/x", secret="short")
    with pytest.raises(InvalidInput, match="non-public"):
        Webhooks(engine.store).add("acme", "http://127.0.0.1:9/x")
    assert engine.store.webhooks("acme") == []  # nothing half-stored
    hook, secret = hooks.add("acme", "http://127.0.0.1:9/x", events=["user.erased", "memory.created"])
    assert secret.startswith("whsec_") and hook.events == ["memory.created", "user.erased"]
    assert hooks.list("globex") == []
    with pytest.raises(Exception, match="no webhook"):
        hooks.remove("globex", hook.id)
    hooks.remove("acme", hook.id)
    assert hooks.list("acme") == []


def test_a_private_address_is_refused_at_delivery_too(engine: Engine) -> None:
    with receiving() as rx:
        Webhooks(engine.store, allow_private=True).add("acme", rx.url)
        engine.remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
        with deliverer(engine, allow_private=False) as d:
            d.run_once()
        [row] = engine.store.deliveries("acme")
    assert rx.got == [] and row.status == "pending" and "non-public" in (row.last_error or "")


def test_the_retry_schedule_grows_and_stops() -> None:
    policy = RetryPolicy()
    assert policy.schedule()[:4] == [10.0, 20.0, 40.0, 80.0] and policy.schedule()[-1] == 3600.0
    assert len(policy.schedule()) == policy.max_attempts - 1
    assert policy.delay(policy.max_attempts) is None
    waits = [policy.delay(3, rng) for rng in (lambda: 0.0, lambda: 1.0)]
    assert waits == [pytest.approx(32.0), pytest.approx(48.0)]
    assert json.dumps(policy.schedule())  # plain numbers, for the README


@pytest.mark.parametrize("module", ["tailored.webhooks.signing", "tailored.webhooks.service"])
def test_docstring_examples_run(module: str, tmp_path: Path) -> None:
    import doctest
    import importlib

    from tailored.store import open_store

    store = open_store(tmp_path / "doc.db")
    runner = doctest.DocTestRunner()
    found = doctest.DocTestFinder().find(importlib.import_module(module), extraglobs={"store": store})
    tests = [t for t in found if t.examples]
    assert tests
    for test in tests:
        runner.run(test)
    store.close()
    assert runner.failures == 0


def test_two_workers_on_one_store_deliver_each_event_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with receiving() as rx:
        first = Engine(path, tenant="acme", embedder=HashEmbedder())
        Webhooks(first.store, allow_private=True).add("acme", rx.url, events=["memory.created"])
        for i in range(60):
            first.remember("ana", {"kind": "fact", "key": f"k{i}", "value": f"v{i}"})
        second = Engine(path, tenant="acme", embedder=HashEmbedder())  # another connection, as another process
        workers = [DeliveryWorker(deliverer(e, batch=4), poll_s=0.01) for e in (first, second)]
        for w in workers:
            w.start()
        got = rx.wait_ok(60)
        time.sleep(0.3)  # time for a second, wrong delivery to arrive
        for w in workers:
            w.stop()
        ids = [r.json["id"] for r in rx.got]
        assert len(got) == 60 and len(ids) == 60 and len(set(ids)) == 60
        assert [d.status for d in first.store.deliveries("acme")] == ["delivered"] * 60
        first.close()
        second.close()
