"""Webhooks over REST (a real server, its own delivery worker, a real receiver) and the
``tailored webhooks`` command: registration, delivery, the log, replay, tenant isolation,
bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder
from tailored.webhooks import verify

from ..server_util import running
from .receiver import receiving

# The webhook routes: tenant-level (no user in the path), isolated by the tests below.
WEBHOOK_ROUTES = {
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("DELETE", "/v1/webhooks/{webhook_id}"),
    ("GET", "/v1/webhooks/deliveries"),
    ("POST", "/v1/webhooks/deliveries/replay"),
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"),
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[dict[str, httpx.Client], Engine]]:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    secrets = {
        "acme": keys.create("acme")[1],
        "globex": keys.create("globex")[1],
        "admin": keys.create(None, admin=True)[1],
        "ana_key": keys.create("acme", user="ana")[1],
    }
    settings = Settings(webhooks_allow_private=True, webhooks_poll_s=0.05)
    with running(create_app(settings, engine)) as url:
        clients = {
            name: httpx.Client(base_url=url, headers={"Authorization": f"Bearer {s}"}, timeout=30)
            for name, s in secrets.items()
        }
        yield clients, engine
        for c in clients.values():
            c.close()
    engine.close()


def test_the_servers_worker_delivers_a_change_made_over_rest(api: tuple[dict[str, httpx.Client], Engine]) -> None:
    c, _ = api
    with receiving() as rx:
        r = c["acme"].post("/v1/webhooks", json={"url": rx.url, "events": ["memory.created"]})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["secret"].startswith("whsec_") and created["events"] == ["memory.created"]
        assert "secret" not in c["acme"].get("/v1/webhooks").json()[0]
        c["acme"].post("/v1/events", json={"events": [{"user_id": "ana", "text": "I moved to Lisbon"}]})
        memory = c["acme"].post("/v1/users/ana/memories", json={"kind": "fact", "key": "city", "value": "Lisbon"})
        [got] = rx.wait_ok(1)
    assert got.json["data"]["memory"]["id"] == memory.json()["id"] and got.json["tenant"] == "acme"
    assert verify(created["secret"], got.headers["Tailored-Signature"], got.body)
    [row] = c["acme"].get("/v1/webhooks/deliveries").json()["items"]
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("delivered", 1, 200)
    replayed = c["acme"].post(f"/v1/webhooks/deliveries/{row['id']}/replay").json()["replayed"]
    assert len(replayed) == 1
    assert c["acme"].delete(f"/v1/webhooks/{created['id']}").status_code == 204
    assert c["acme"].get("/v1/webhooks").json() == [] and c["acme"].get("/v1/webhooks/deliveries").json()["items"] == []


def test_webhooks_are_isolated_by_tenant_and_refused_to_admin_and_user_keys(
    api: tuple[dict[str, httpx.Client], Engine],
) -> None:
    c, engine = api
    hook = c["acme"].post("/v1/webhooks", json={"url": "http://127.0.0.1:9/acme-only"}).json()
    engine.for_tenant("acme").remember("ana", {"kind": "fact", "key": "plan", "value": "acme secret plan"})
    [delivery] = engine.store.deliveries("acme")
    g = c["globex"]
    assert g.get("/v1/webhooks").json() == []
    assert g.get("/v1/webhooks/deliveries").json()["items"] == []
    assert g.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert g.post(f"/v1/webhooks/deliveries/{delivery.id}/replay").status_code == 404
    assert g.post("/v1/webhooks/deliveries/replay").json() == {"replayed": []}
    for name, code in (("admin", "forbidden"), ("ana_key", "tenant_isolation")):
        for method, path in WEBHOOK_ROUTES:
            target = path.format(webhook_id=hook["id"], delivery_id=delivery.id)
            r = c[name].request(method, target, json={"url": "http://127.0.0.1:9/x"} if method == "POST" else None)
            assert r.status_code == 403 and r.json()["error"]["code"] == code, (name, method, path, r.text)
            assert "acme-only" not in r.text and "secret plan" not in r.text
    assert [w["id"] for w in c["acme"].get("/v1/webhooks").json()] == [hook["id"]]


def test_bad_registrations_are_422_with_a_reason_and_store_nothing(
    api: tuple[dict[str, httpx.Client], Engine],
) -> None:
    c, engine = api
    for body, words in (
        ({"url": "ftp://example.com/x"}, "http"),
        ({"url": "http://127.0.0.1:9/x", "events": ["memory.exploded"]}, "events"),
        ({"url": "http://127.0.0.1:9/x", "secret": "short"}, "secret"),
        ({"url": "http://127.0.0.1:9/x", "extra": 1}, "extra"),
        ({}, "url"),
    ):
        r = c["acme"].post("/v1/webhooks", json=body)
        assert r.status_code == 422 and words in r.text, (body, r.text)
        assert r.json()["error"]["message"]
    assert c["acme"].post("/v1/webhooks/deliveries/999/replay").status_code == 404
    assert c["acme"].get("/v1/webhooks/deliveries", params={"status": "lost"}).status_code == 422
    assert engine.store.webhooks("acme") == []


def run(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAILORED_DB": str(db), "TAILORED_EMBEDDER": "hash", "COLUMNS": "200"}
    env.pop("TAILORED_WEBHOOKS_ALLOW_PRIVATE", None)
    return subprocess.run(
        [sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_command_line_registers_delivers_logs_and_replays(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    with receiving(500, default=200) as rx:
        refused = run("webhooks", "add", rx.url, "--tenant", "acme", db=db)
        assert refused.returncode == 1 and refused.stderr.count("\n") == 1 and "non-public" in refused.stderr
        added = run("webhooks", "add", rx.url, "--tenant", "acme", "--allow-private", "-e", "memory.created", db=db)
        assert added.returncode == 0, added.stderr
        secret = added.stdout.strip().splitlines()[-1]
        [hook] = json.loads(run("webhooks", "list", "--tenant", "acme", "--json", db=db).stdout)
        assert hook["url"] == rx.url and "secret" not in hook
        with Engine(db, tenant="acme", embedder=HashEmbedder()) as eng:
            eng.remember("ana", {"kind": "fact", "key": "city", "value": "Lisbon"})
        sent = run("webhooks", "deliver", "--allow-private", db=db)
        assert sent.returncode == 0 and "1 to retry" in sent.stdout, sent.stdout + sent.stderr
        [row] = json.loads(run("webhooks", "deliveries", "--tenant", "acme", "--json", db=db).stdout)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, 500)
        bad = run("webhooks", "replay", "--tenant", "acme", db=db)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1
        assert run("webhooks", "replay", str(row["id"]), "--tenant", "acme", db=db).returncode == 1  # still pending
        assert run("webhooks", "deliveries", "--tenant", "acme", "--status", "lost", db=db).returncode == 1
        with Engine(db, tenant="acme", embedder=HashEmbedder()) as eng:  # give up now: fail it by hand
            [due] = eng.store.claim_deliveries("t", now=row_due(row), lease_s=5, limit=1)
            eng.store.finish_delivery(
                due.id, "t", at=row_due(row), delivered=False, status_code=500, error="HTTP 500", retry_at=None
            )
        replayed = run("webhooks", "replay", "--failed", "--tenant", "acme", db=db)
        assert replayed.returncode == 0 and "queued 1" in replayed.stdout
        assert "1 delivered" in run("webhooks", "deliver", "--allow-private", db=db).stdout
        [got] = rx.wait_ok(1)
        assert verify(secret, got.headers["Tailored-Signature"], got.body)
        assert run("webhooks", "remove", hook["id"], "--tenant", "globex", "--yes", db=db).returncode == 1
        assert run("webhooks", "remove", hook["id"], "--tenant", "acme", "--yes", db=db).returncode == 0
        assert json.loads(run("webhooks", "list", "--tenant", "acme", "--json", db=db).stdout) == []


def row_due(row: dict[str, object]) -> object:
    from datetime import datetime

    return datetime.fromisoformat(str(row["next_attempt_at"]))
