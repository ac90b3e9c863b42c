"""What a user owns decides whether they exist, and a tenant sees only its own figures.

Regression tests for issue 14, items 5 and 7: a user with memories or summaries but no
events was invisible and could not be erased over REST, yet their memories reached
``/context``; ``/v1/stats`` showed the shared file's size, so one tenant saw another's
writes and erasures.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import numpy as np
import pytest

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder

from .server_util import running


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client, Engine]]:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, a = keys.create("acme")
    _, b = keys.create("globex")
    with running(create_app(Settings(), engine)) as url:
        ca = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}, timeout=30)
        cb = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {b}"}, timeout=30)
        yield ca, cb, engine
        ca.close()
        cb.close()
    engine.close()


def test_a_user_with_memories_only_is_listed_read_exported_and_erased(
    api: tuple[httpx.Client, httpx.Client, Engine],
) -> None:
    a, _, engine = api
    engine.for_tenant("acme").remember("ana", {"kind": "fact", "key": "allergy", "value": "peanuts"})  # as the CLI does
    assert [u["user_id"] for u in a.get("/v1/users").json()["items"]] == ["ana"]
    assert a.get("/v1/users/ana").status_code == 200
    exported = a.get("/v1/users/ana/export").json()
    assert [m["value"] for m in exported["memories"]] == ["peanuts"] and exported["events"] == []
    assert a.delete("/v1/users/ana").status_code in (200, 204)
    assert a.get("/v1/users").json()["items"] == [] and a.get("/v1/users/ana").status_code == 404
    assert engine.for_tenant("acme").history("ana") == []


def test_an_import_without_events_makes_a_user_that_can_be_erased(
    api: tuple[httpx.Client, httpx.Client, Engine],
) -> None:
    a, _, engine = api
    engine.for_tenant("acme").remember("bo", {"kind": "preference", "key": "tea", "value": "green", "polarity": "like"})
    exported = a.get("/v1/users/bo/export").json()
    a.delete("/v1/users/bo")
    assert a.post("/v1/users/import", json=exported).status_code in (200, 201)
    assert [u["user_id"] for u in a.get("/v1/users").json()["items"]] == ["bo"]
    assert a.delete("/v1/users/bo").status_code in (200, 204)
    assert a.get("/v1/users/bo/export").status_code == 404


def test_stats_show_only_the_callers_tenant(api: tuple[httpx.Client, httpx.Client, Engine]) -> None:
    a, b, _ = api
    b.post("/v1/events", json={"events": [{"user_id": "zed", "text": "globex data"}]})
    before = b.get("/v1/stats").json()
    assert before["db_bytes"] is None and before["db_path"] is None
    events = [{"user_id": f"u{i}", "text": "acme writes a lot " * 50} for i in range(40)]
    assert a.post("/v1/events", json={"events": events}).status_code == 200
    a.delete("/v1/users/u0")
    assert b.get("/v1/stats").json() == before  # nothing of acme's activity shows
    mine = a.get("/v1/stats").json()
    assert mine["events"] == 39 and mine["tenant_bytes"] > before["tenant_bytes"]


class CountingEmbedder(HashEmbedder):
    """The hash embedder, keeping every text it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.seen.extend(texts)
        return super().embed_batch(texts)


def test_a_second_context_request_does_not_embed_the_profile_again(tmp_path: Path) -> None:
    """Issue 13: the server's per-request engine view lost the memory-vector cache."""
    embedder = CountingEmbedder()
    engine = Engine(tmp_path / "server.db", embedder=embedder)
    _, key = Keys(engine.store).create("acme")
    body = {"query": "what should I cook tonight?", "budget": 400}
    with (
        running(create_app(Settings(), engine)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c,
    ):
        said = ["I am vegetarian", "I love spicy food", "I have a dog named Rex", "I hate mushrooms"]
        c.post("/v1/events", json={"events": [{"user_id": "ana", "role": "user", "text": t} for t in said]})
        assert c.post("/v1/users/ana/context", json=body).status_code == 200
        memory_texts = {m.text for m in engine.for_tenant("acme").profile("ana").preferences}
        assert len(memory_texts) >= 2 and memory_texts <= set(embedder.seen)
        before = len(embedder.seen)
        assert c.post("/v1/users/ana/context", json=body).status_code == 200
        assert not memory_texts & set(embedder.seen[before:])  # only the query was embedded
        c.delete("/v1/users/ana")
    assert engine._memory_vectors._users == {}  # erase drops the cached vectors too
    engine.close()


def test_the_first_search_embeds_deferred_events_once(tmp_path: Path) -> None:
    """Events added with ``embed=False`` were embedded twice at the first search."""
    embedder = CountingEmbedder()
    with Engine(tmp_path / "d.db", embedder=embedder) as eng:
        eng.add([{"user_id": "ana", "role": "user", "text": f"note {i} about gardens"} for i in range(10)], embed=False)
        assert eng.search("ana", "gardens")
        assert len(embedder.seen) == 11  # ten events and the query
        assert len(eng.search("ana", "notes on gardens")) == 10 and len(embedder.seen) == 12


# -- user-scoped keys ----------------------------------------------------------------------
# A key made with ``keys create --tenant T --user U`` reads and writes U and nothing else.
# Every route of the isolation table (which covers every route, see test_server.py) is
# called twice with ana's key: on ana (allowed) and on bob, a user of the same tenant
# (403). Tenant-wide reads are 403 too: a 403 says the key may not, whether or not the
# other user exists, so it reveals nothing.

TENANT_WIDE = {("GET", "/v1/users"), ("GET", "/v1/stats")}


@pytest.fixture
def scoped(tmp_path: Path) -> Iterator[tuple[str, str, str, Engine]]:
    from tailored.testing import ScriptedChatModel

    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, tenant_key = keys.create("acme")
    record, ana_key = keys.create("acme", user="ana", label="ana's agent")
    assert record.user_id == "ana"
    with running(create_app(Settings(), engine, chat_model=ScriptedChatModel(default="Lentil curry."))) as url:
        yield url, tenant_key, ana_key, engine
    engine.close()


def _seed(engine: Engine, user: str) -> int:
    """The user afresh: two events and one memory; returns the memory's id. An erase takes
    the keys scoped to the user with it: they are put back."""
    eng = engine.for_tenant("acme")
    if user in {u.user_id for u in eng.users()}:
        keys = [k for k in eng.store.stored_keys("acme") if k.key.user_id == user]
        eng.erase(user)
        for k in keys:
            eng.store.restore_key(k)
    eng.add([{"user_id": user, "text": f"{user} secret plan", "source_id": f"{user}-1"}])
    return eng.remember(user, {"kind": "fact", "key": "plan", "value": f"{user} secret plan"}).id


def _body(body: object, user: str, engine: Engine) -> object:
    if body == "EXPORT":
        return engine.for_tenant("acme").export(user).model_dump(mode="json")
    if body is None:
        return None
    import json

    return json.loads(json.dumps(body).replace('"bob"', json.dumps(user)))


def test_a_user_key_does_everything_on_its_user_and_nothing_on_another(
    scoped: tuple[str, str, str, Engine],
) -> None:
    from .test_server import ISOLATION

    url, tenant_key, ana_key, engine = scoped
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ana_key}"}, timeout=30) as ana:
        # Erasing ana removes the keys scoped to her: that route runs last, on bob first.
        erase = [row for row in ISOLATION if row[:2] == ("DELETE", "/v1/users/{user_id}")]
        for method, path, body in [row for row in ISOLATION if row not in erase] + erase:
            for user in ("bob", "ana") if (method, path, body) in erase else ("ana", "bob"):
                memory_id = _seed(engine, user)
                _seed(engine, "bob" if user == "ana" else "ana")
                target = path.format(user_id=user, memory_id=memory_id)
                r = ana.request(method, target, json=_body(body, user, engine))
                where = (method, path, user, r.status_code, r.text[:200])
                if (method, path) in TENANT_WIDE or user == "bob":
                    assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_isolation", where
                    assert "bob secret plan" not in r.text, where
                elif path == "/v1/judge":
                    assert r.status_code not in (401, 403), where  # the scripted model may not judge
                else:
                    assert r.status_code < 400, where
        assert ana.get("/v1/users/ana").status_code == 401  # ana erased, and her key with her
    # bob was never touched by ana's key: his events and memory are as seeded
    eng = engine.for_tenant("acme")
    assert [e.text for e in eng.events("bob")] == ["bob secret plan"]
    assert [m.value for m in eng.history("bob")] == ["bob secret plan"]


def test_a_user_key_writes_only_its_user_and_a_mixed_batch_stores_nothing(
    scoped: tuple[str, str, str, Engine],
) -> None:
    url, _, ana_key, engine = scoped
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ana_key}"}, timeout=30) as ana:
        mixed = [{"user_id": "ana", "text": "mine"}, {"user_id": "bob", "text": "planted"}]
        r = ana.post("/v1/events", json={"events": mixed})
        assert r.status_code == 403 and "scoped to user 'ana'" in r.json()["error"]["message"]
        assert engine.for_tenant("acme").users() == []  # all or nothing
        plain = ana.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert plain.status_code == 403  # no user named: the key answers for ana only
        chat = {"user": "ana", "messages": [{"role": "user", "content": "Dinner?"}], "stream": True}
        with ana.stream("POST", "/v1/chat/completions", json={**chat, "user": "bob"}) as r:
            assert r.status_code == 403
        with ana.stream("POST", "/v1/chat/completions", json=chat) as r:
            assert r.status_code == 200 and "Lentil" in r.read().decode()
        assert ana.get("/v1/admin/keys").status_code == 403
    assert [e.role for e in engine.for_tenant("acme").events("ana")] == ["user", "assistant"]


def test_an_admin_creates_a_user_key_over_rest_and_bad_users_are_refused(tmp_path: Path) -> None:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    _, admin = Keys(engine.store).create(None, admin=True)
    with (
        running(create_app(Settings(), engine)) as url,
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as c,
    ):
        made = c.post("/v1/admin/keys", json={"tenant": "acme", "user_id": "ana"}).json()
        assert made["user_id"] == "ana" and made["tenant"] == "acme"
        listed = {k["id"]: k for k in c.get("/v1/admin/keys").json()}
        assert listed[made["id"]]["user_id"] == "ana"
        bad = c.post("/v1/admin/keys", json={"tenant": "acme", "user_id": "a/b"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {made['key']}"}, timeout=30) as ana:
            assert ana.post("/v1/events", json={"events": [{"user_id": "ana", "text": "hello"}]}).status_code == 200
            assert ana.get("/v1/users/ana").json()["events"] == 1
            assert ana.get("/v1/users").status_code == 403
    assert len(Keys(engine.store).list()) == 2  # the refused one was not stored
    engine.close()


def test_keys_create_with_user_on_the_command_line(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "TAILORED_DB": str(tmp_path / "k.db"), "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tailored", *args], capture_output=True, text=True, env=env)

    made = cli("keys", "create", "--tenant", "acme", "--user", "ana")
    assert made.returncode == 0 and "user ana only" in made.stdout and "tlk_" in made.stdout
    (row,) = json.loads(cli("keys", "list", "--json").stdout)
    assert (row["tenant"], row["user_id"]) == ("acme", "ana")
    bad = cli("keys", "create", "--tenant", "acme", "--user", "a/b")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "user_id" in bad.stderr
    admin = cli("keys", "create", "--admin", "--user", "ana")
    assert admin.returncode == 1 and "admin key cannot be scoped" in admin.stderr
    assert len(json.loads(cli("keys", "list", "--json").stdout)) == 1
