"""``POST /v1/users/{user}/assess`` and ``tailored.safety`` on the OpenAI-compatible endpoint,
over real HTTP: results, tenant and user-key isolation, bad input as 4xx JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tailored import Engine
from tailored.embed import Embedder
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import ScriptedChatModel

from ..server_util import running

pytestmark = pytest.mark.slow

FACT = "We moved the book club to Wednesdays, and since I'm on warfarin now the dentist wants a note first."
REQUEST = "How much ibuprofen can I take for a sprained ankle?"


@pytest.fixture
def api(tmp_path: Path, minilm: Embedder) -> Iterator[tuple[str, dict[str, str], ScriptedChatModel]]:
    engine = Engine(tmp_path / "server.db", embedder=minilm, extractor="rules")
    keys = Keys(engine.store)
    _, acme = keys.create("acme")
    _, globex = keys.create("globex")
    _, ana = keys.create("acme", user="ana")
    acme_eng = engine.for_tenant("acme")
    acme_eng.add([{"user_id": "ana", "text": "The tram was late again"}, {"user_id": "ana", "text": FACT}])
    acme_eng.add([{"user_id": "bob", "text": FACT}])
    model = ScriptedChatModel(default="Paracetamol may suit you better; ask your pharmacist.")
    with running(create_app(Settings(), engine, chat_model=model)) as url:
        yield url, {"acme": acme, "globex": globex, "ana": ana}, model
    engine.close()


def client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_assess_finds_the_fact_and_keeps_to_the_caller(api: tuple[str, dict[str, str], ScriptedChatModel]) -> None:
    url, keys, _ = api
    with client(url, keys["acme"]) as c:
        r = c.post("/v1/users/ana/assess", json={"request": REQUEST})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["domain"] == "health_medication" and body["risk"] == "high"
        assert [f["text"] for f in body["facts"]] == [FACT]
        assert body["facts"][0]["source"] == "event" and body["facts"][0]["categories"] == ["medication"]
    with client(url, keys["globex"]) as c:  # another tenant: the same user id has nothing
        body = c.post("/v1/users/ana/assess", json={"request": REQUEST}).json()
        assert body["facts"] == [] and body["risk"] == "medium" and "warfarin" not in str(body)
    with client(url, keys["ana"]) as c:  # a key scoped to ana: ana yes, bob no
        assert c.post("/v1/users/ana/assess", json={"request": REQUEST}).status_code == 200
        r = c.post("/v1/users/bob/assess", json={"request": REQUEST})
        assert r.status_code == 403 and r.json()["error"]["code"] == "tenant_isolation"
        assert "warfarin" not in r.text


def test_sensitive_lists_labelled_memories_of_the_key_s_user_only(
    api: tuple[str, dict[str, str], ScriptedChatModel],
) -> None:
    url, keys, _ = api
    with client(url, keys["acme"]) as c:
        made = c.post(
            "/v1/users/ana/memories", json={"kind": "fact", "key": "condition", "value": "asthma", "text": "has asthma"}
        )
        assert made.status_code in (200, 201), made.text
        r = c.get("/v1/users/ana/sensitive")
        assert r.status_code == 200
        assert [(m["memory_id"], m["categories"]) for m in r.json()] == [(made.json()["id"], ["health_condition"])]
    with client(url, keys["globex"]) as c:
        assert c.get("/v1/users/ana/sensitive").json() == []
    with client(url, keys["ana"]) as c:
        assert c.get("/v1/users/ana/sensitive").status_code == 200
        assert c.get("/v1/users/bob/sensitive").status_code == 403


def test_settings_and_audit_log_over_rest(api: tuple[str, dict[str, str], ScriptedChatModel]) -> None:
    url, keys, _ = api
    with client(url, keys["ana"]) as c:
        assert c.get("/v1/users/ana/sensitive/settings").json()["off"] == []
        assert c.post("/v1/users/ana/assess", json={"request": REQUEST}).json()["risk"] == "high"
        (use,) = c.get("/v1/users/ana/sensitive/uses").json()
        assert use["purpose"] == "assess" and use["categories"] == ["medication"] and use["query"] == REQUEST
        r = c.put("/v1/users/ana/sensitive/settings", json={"off": ["medication"]})
        assert r.status_code == 200 and r.json()["off"] == ["medication"]
        body = c.post("/v1/users/ana/assess", json={"request": REQUEST}).json()
        assert body["facts"] == [] and "warfarin" not in str(body)
        assert len(c.get("/v1/users/ana/sensitive/uses").json()) == 1  # nothing new was used
        bad = c.put("/v1/users/ana/sensitive/settings", json={"off": ["horoscope"]})
        assert bad.status_code == 422 and "unknown sensitive categories" in bad.json()["error"]["message"]
        assert c.get("/v1/users/ana/sensitive/settings").json()["off"] == ["medication"]
        assert c.get("/v1/users/ana/sensitive/uses", params={"limit": 0}).status_code == 422
        assert c.get("/v1/users/bob/sensitive/uses").status_code == 403
        assert c.put("/v1/users/bob/sensitive/settings", json={"off": []}).status_code == 403
    with client(url, keys["globex"]) as c:  # the same user id in another tenant has neither
        assert c.get("/v1/users/ana/sensitive/uses").json() == []
        assert c.get("/v1/users/ana/sensitive/settings").json()["off"] == []


@pytest.mark.parametrize("body", [{}, {"request": ""}, {"request": "x", "extra": 1}, {"request": 5}])
def test_bad_bodies_are_422_json(api: tuple[str, dict[str, str], ScriptedChatModel], body: object) -> None:
    url, keys, _ = api
    with client(url, keys["acme"]) as c:
        r = c.post("/v1/users/ana/assess", json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


def test_chat_completions_with_safety(api: tuple[str, dict[str, str], ScriptedChatModel]) -> None:
    url, keys, model = api
    with client(url, keys["acme"]) as c:
        msg = [{"role": "user", "content": REQUEST}]
        asked = c.post("/v1/chat/completions", json={"user": "carl", "messages": msg, "tailored": {"safety": "ask"}})
        assert asked.status_code == 200, asked.text
        assert asked.json()["choices"][0]["message"]["content"].endswith("?")
        assert model.calls == []
        adapted = c.post("/v1/chat/completions", json={"user": "ana", "messages": msg, "tailored": {"safety": "adapt"}})
        assert adapted.status_code == 200
        system = model.calls[-1][0].content
        assert "warfarin" in system[system.index("Safety first") :]
        for bad in (
            {"messages": msg, "tailored": {"safety": "adapt"}},
            {"user": "ana", "messages": msg, "tailored": {"safety": "loud"}},
        ):
            r = c.post("/v1/chat/completions", json=bad)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input", r.text
