"""The REST API over real HTTP on loopback: behaviour, errors, keys and tenant isolation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tailored import Engine
from tailored.errors import ModelError
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder, ScriptedChatModel

from .server_util import running


@dataclass
class Server:
    url: str
    a: str  # tenant "acme" key
    b: str  # tenant "globex" key
    admin: str
    engine: Engine
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, key: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self.clients.append(client)
        return client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, a = keys.create("acme")
    _, b = keys.create("globex")
    _, admin = keys.create(None, admin=True)
    app = create_app(Settings(max_body_bytes=200_000, max_batch=50), engine, chat_model=ScriptedChatModel())
    with running(app) as url:
        srv = Server(url, a, b, admin, engine)
        yield srv
        for client in srv.clients:
            client.close()
    engine.close()


def seed(c: httpx.Client, user: str = "ana") -> None:
    events = [
        {"user_id": user, "role": "user", "text": "I am vegetarian", "source_id": "m1", "session_id": "s1"},
        {"user_id": user, "role": "user", "text": "I love hiking in the Alps", "source_id": "m2", "session_id": "s1"},
        {"user_id": user, "kind": "rating", "text": "Rated Dune 5/5", "source_id": "r1", "payload": {"stars": 5}},
    ]
    r = c.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text


def test_events_search_context_export_import_erase(server: Server) -> None:
    c = server.client(server.a)
    seed(c)
    again = c.post("/v1/events", json={"events": [{"user_id": "ana", "text": "I am vegetarian", "source_id": "m1"}]})
    assert again.json() == {"added": [], "duplicates": 1, "embedded": 0}

    hits = c.post("/v1/users/ana/search", json={"query": "vegetarian", "k": 2}).json()
    assert hits[0]["event"]["text"] == "I am vegetarian" and hits[0]["parts"]["bm25"] > 0
    only = c.post("/v1/users/ana/search", json={"query": "dune hiking", "kinds": ["rating"]}).json()
    assert [h["event"]["kind"] for h in only] == ["rating"]

    ctx = c.post("/v1/users/ana/context", json={"query": "dinner ideas", "budget": 300}).json()
    assert "vegetarian" in ctx["text"] and ctx["tokens"] <= 300
    bare = c.post("/v1/users/ana/context", json={"query": "dinner ideas", "records": False}).json()
    assert bare["items"] == [] and "vegetarian" in bare["text"]  # the profile still says it

    user = c.get("/v1/users/ana").json()
    assert user["events"] == 3
    page1 = c.get("/v1/users/ana/events", params={"limit": 2}).json()
    page2 = c.get("/v1/users/ana/events", params={"limit": 2, "after": page1["next"]}).json()
    assert len(page1["items"]) == 2 and page1["next"] and len(page2["items"]) == 1 and page2["next"] is None
    kinds = c.get("/v1/users/ana/events", params={"kind": "rating"}).json()["items"]
    assert [e["kind"] for e in kinds] == ["rating"]

    export = c.get("/v1/users/ana/export").json()
    erased = c.delete("/v1/users/ana").json()
    assert erased == {"user_id": "ana", "erased_events": 3}
    assert c.get("/v1/users/ana").status_code == 404
    restored = c.post("/v1/users/import", json=export).json()
    assert len(restored["added"]) == 3
    assert c.get("/v1/users").json()["items"][0]["user_id"] == "ana"
    stats = c.get("/v1/stats").json()
    assert stats["events"] == 3 and stats["db_path"] is None


def test_user_listing_pages(server: Server) -> None:
    c = server.client(server.a)
    c.post("/v1/events", json={"events": [{"user_id": f"u{i:02d}", "text": "hello"} for i in range(5)]})
    first = c.get("/v1/users", params={"limit": 3}).json()
    rest = c.get("/v1/users", params={"limit": 3, "after": first["next"]}).json()
    assert [u["user_id"] for u in first["items"] + rest["items"]] == [f"u{i:02d}" for i in range(5)]
    assert rest["next"] is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/v1/events", {"events": []}, 422, "invalid_input"),
        ("POST", "/v1/events", {"events": [{"user_id": "ana", "text": ""}]}, 422, "invalid_input"),
        ("POST", "/v1/events", {"events": [{"user_id": "ana", "text": "x", "color": "red"}]}, 422, "invalid_input"),
        ("POST", "/v1/events", {"events": [{"text": "no user"}]}, 422, "invalid_input"),
        ("POST", "/v1/events", {"events": [{"user_id": "a", "text": "x"}] * 51}, 422, "invalid_input"),
        ("POST", "/v1/users/ana/search", {"query": "x", "k": 0}, 422, "invalid_input"),
        ("POST", "/v1/users/ana/search", {"query": "x", "mode": "magic"}, 422, "invalid_input"),
        ("POST", "/v1/users/ana/context", {"query": "x", "budget": 1}, 422, "invalid_input"),
        ("GET", "/v1/users/nobody", None, 404, "not_found"),
        ("GET", "/v1/users/nobody/export", None, 404, "not_found"),
        ("DELETE", "/v1/users/nobody", None, 404, "not_found"),
        ("POST", "/v1/users/import", {"format": "something else"}, 422, "invalid_input"),
        ("GET", "/v1/nothing-here", None, 404, "not_found"),
    ],
)
def test_errors_are_typed_json(server: Server, method: str, path: str, body: object, status: int, code: str) -> None:
    r = server.client(server.a).request(method, path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert server.engine.stats().events == 0


def test_malformed_json_and_oversized_bodies(server: Server) -> None:
    c = server.client(server.a)
    r = c.post("/v1/events", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    big = {"events": [{"user_id": "ana", "text": "x" * 30_000}] * 10}
    r = c.post("/v1/events", json=big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        yield b'{"events": [{"user_id": "ana", "text": "'
        for _ in range(30):
            yield b"y" * 10_000
        yield b'"}]}'

    r = c.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert server.engine.stats().events == 0


def test_keys_missing_wrong_and_revoked_get_401(server: Server) -> None:
    assert server.client(None).get("/v1/users").status_code == 401
    assert server.client("tlk_not_a_real_key").get("/v1/users").status_code == 401
    admin = server.client(server.admin)
    created = admin.post("/v1/admin/keys", json={"tenant": "initech", "label": "ci"})
    assert created.status_code == 201
    new = created.json()
    c = server.client(new["key"])
    assert c.get("/v1/users").status_code == 200
    assert admin.delete(f"/v1/admin/keys/{new['id']}").json()["revoked_at"] is not None
    r = c.get("/v1/users")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert "initech" in admin.get("/v1/admin/tenants").json()


def test_admin_routes_need_admin_and_admin_has_no_user_data(server: Server) -> None:
    assert server.client(server.a).get("/v1/admin/keys").status_code == 403
    assert server.client(server.a).post("/v1/admin/keys", json={"tenant": "acme"}).status_code == 403
    assert server.client(server.admin).get("/v1/users").status_code == 403
    keys = server.client(server.admin).get("/v1/admin/keys").json()
    assert all("hash" not in k and "key" not in k for k in keys)


# Every route that touches tenant data, with what tenant A's key must get for tenant B's user.
# A route missing from this table fails test_isolation_table_covers_every_route.
ISOLATION = [
    ("GET", "/v1/users", None),
    ("GET", "/v1/users/{user_id}", None),
    ("DELETE", "/v1/users/{user_id}", None),
    ("GET", "/v1/users/{user_id}/events", None),
    ("POST", "/v1/users/{user_id}/search", {"query": "secret plan"}),
    ("POST", "/v1/users/{user_id}/context", {"query": "secret plan"}),
    ("GET", "/v1/users/{user_id}/export", None),
    ("POST", "/v1/events", {"events": [{"user_id": "bob", "text": "injected by acme", "source_id": "b1"}]}),
    ("GET", "/v1/stats", None),
    ("GET", "/v1/users/{user_id}/profile", None),
    ("GET", "/v1/users/{user_id}/memories", None),
    ("POST", "/v1/users/{user_id}/memories", {"kind": "fact", "key": "k", "value": "planted by acme"}),
    ("GET", "/v1/users/{user_id}/memories/{memory_id}", None),
    ("PATCH", "/v1/users/{user_id}/memories/{memory_id}", {"text": "rewritten by acme"}),
    ("POST", "/v1/users/{user_id}/memories/{memory_id}/pin", {"pinned": True}),
    ("DELETE", "/v1/users/{user_id}/memories/{memory_id}", None),
    ("POST", "/v1/users/{user_id}/summarize", {"task": "general"}),
    ("POST", "/v1/chat/completions", {"user": "bob", "messages": [{"role": "user", "content": "my secret plan?"}]}),
    ("POST", "/v1/judge", {"user": "bob", "query": "my secret plan?", "response_a": "x", "response_b": "y"}),
    ("GET", "/v1/users/{user_id}/recommendations", None),
    ("POST", "/v1/users/{user_id}/assess", {"request": "Should I bet my savings on my secret plan?"}),
    ("GET", "/v1/users/{user_id}/sensitive", None),
    ("GET", "/v1/users/{user_id}/sensitive/settings", None),
    ("PUT", "/v1/users/{user_id}/sensitive/settings", {"off": ["all"]}),
    ("GET", "/v1/users/{user_id}/sensitive/uses", None),
    # last: importing a (leaked) export writes a copy into acme's own tenant, never into globex
    ("POST", "/v1/users/import", "EXPORT"),
]
PUBLIC_OR_ADMIN = {"/v1/health", "/v1/models", "/v1/admin/tenants", "/v1/admin/keys", "/v1/admin/keys/{key_id}"}


def test_isolation_table_covers_every_route(server: Server) -> None:
    from .webhooks.test_rest_cli import WEBHOOK_ROUTES

    app = create_app(Settings(), server.engine)
    routes = {
        (m, r.path)  # type: ignore[attr-defined]
        for r in app.routes
        if getattr(r, "path", "").startswith("/v1/")
        for m in getattr(r, "methods", set())
    }
    table = {(m, p) for m, p, _ in ISOLATION} | WEBHOOK_ROUTES  # tenant-level: see tests/webhooks
    uncovered = {(m, p) for m, p in routes if (m, p) not in table and p not in PUBLIC_OR_ADMIN}
    assert uncovered == set()


def test_tenant_a_cannot_touch_tenant_b(server: Server) -> None:
    b = server.client(server.b)
    b.post("/v1/events", json={"events": [{"user_id": "bob", "text": "globex secret plan", "source_id": "b1"}]})
    memory = b.post("/v1/users/bob/memories", json={"kind": "fact", "key": "plan", "value": "globex secret plan"})
    memory_id = memory.json()["id"]
    export = b.get("/v1/users/bob/export").json()
    a = server.client(server.a)
    for method, path, body in ISOLATION:
        payload = export if body == "EXPORT" else body
        r = a.request(method, path.format(user_id="bob", memory_id=memory_id), json=payload)
        text = r.text
        if body != "EXPORT":
            assert "globex secret plan" not in text, (method, path)
        assert r.status_code in (200, 201, 404), (method, path, r.status_code)
        if method == "GET" and path == "/v1/users":
            assert all(u["user_id"] != "bob" for u in r.json()["items"])
        if path.endswith("/search"):
            assert r.json() == []
    # B's data is untouched: same events, and acme's writes landed in acme only
    assert [e["text"] for e in b.get("/v1/users/bob/events").json()["items"]] == ["globex secret plan"]
    assert b.get("/v1/stats").json()["events"] == 1
    assert b.get("/v1/users/bob/sensitive/settings").json()["off"] == []  # acme's PUT landed in acme
    (kept,) = b.get("/v1/users/bob/memories").json()
    assert kept["text"] == "plan: globex secret plan" and kept["status"] == "active" and not kept["pinned"]


# -- the OpenAI-compatible endpoint, through the official openai client ---------------------


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[tuple[str, str, str, Engine, ScriptedChatModel]]:
    engine = Engine(tmp_path / "chat.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, a = keys.create("acme")
    _, b = keys.create("globex")
    model = ScriptedChatModel(default="Try a lentil curry tonight.")
    with running(create_app(Settings(), engine, chat_model=model)) as url:
        yield url, a, b, engine, model
    engine.close()


def test_openai_client_gets_personalized_answers_and_turns_are_remembered(
    chat_server: tuple[str, str, str, Engine, ScriptedChatModel],
) -> None:
    from openai import OpenAI

    url, a, b, engine, model = chat_server
    engine.for_tenant("acme").add({"user_id": "ana", "text": "I am vegetarian"})
    engine.for_tenant("globex").add({"user_id": "ana", "text": "globex-only secret: I eat steak daily"})
    client = OpenAI(base_url=url + "/v1", api_key=a)
    assert [m.id for m in client.models.list().data] == ["scripted"]

    reply = client.chat.completions.create(
        model="tailored", user="ana", messages=[{"role": "user", "content": "What should I cook for dinner?"}]
    )
    assert reply.choices[0].message.content == "Try a lentil curry tonight."
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    system = model.calls[-1][0]
    assert system.role == "system" and "vegetarian" in system.content
    assert "steak" not in system.content  # another tenant's user of the same id is invisible
    texts = [e.text for e in engine.for_tenant("acme").events("ana")]
    assert texts == ["I am vegetarian", "What should I cook for dinner?", "Try a lentil curry tonight."]
    client.close()


def test_openai_streaming_and_no_memory(chat_server: tuple[str, str, str, Engine, ScriptedChatModel]) -> None:
    from openai import OpenAI

    url, a, _, engine, model = chat_server
    acme = engine.for_tenant("acme")
    acme.add({"user_id": "ana", "text": "I am vegetarian"})
    client = OpenAI(base_url=url + "/v1", api_key=a)
    chunks = client.chat.completions.create(
        model="tailored", user="ana", stream=True, messages=[{"role": "user", "content": "Dinner idea?"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Try a lentil curry tonight."
    assert len(acme.events("ana")) == 3

    plain = client.chat.completions.create(
        model="tailored",
        user="ana",
        messages=[{"role": "user", "content": "Dinner idea?"}],
        extra_body={"tailored": {"memory": False}},
    )
    assert plain.choices[0].message.content
    assert all("vegetarian" not in m.content for m in model.calls[-1])
    assert len(acme.events("ana")) == 3  # nothing stored without memory
    client.close()


def test_openai_errors_are_typed(chat_server: tuple[str, str, str, Engine, ScriptedChatModel]) -> None:
    url, a, _, engine, model = chat_server
    model.replies.append(ModelError("the model crashed"))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}) as c:
        r = c.post("/v1/chat/completions", json={"user": "ana", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_error"
        r = c.post("/v1/chat/completions", json={"user": "ana", "messages": [{"role": "assistant", "content": "hi"}]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
        r = c.post("/v1/chat/completions", json={"messages": []})
        assert r.status_code == 422
        assert httpx.post(url + "/v1/chat/completions", json={"messages": []}).status_code == 401
    assert engine.for_tenant("acme").users() == []  # a failed chat stores nothing
