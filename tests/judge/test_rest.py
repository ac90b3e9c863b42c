"""``POST /v1/judge`` over real HTTP: results, tenant isolation, bad input as 4xx JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tailored import Engine
from tailored.keys import Keys
from tailored.server import Settings, create_app
from tailored.testing import HashEmbedder, ScriptedChatModel

from ..server_util import running

VERDICT = json.dumps({"rationale": "item 1", "items": [1], "winner": "B", "confidence": 7})


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel]]:
    engine = Engine(tmp_path / "server.db", embedder=HashEmbedder())
    keys = Keys(engine.store)
    _, a = keys.create("acme")
    _, b = keys.create("globex")
    model = ScriptedChatModel(default="B")
    with running(create_app(Settings(), engine, chat_model=model)) as url:
        ca = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {a}"}, timeout=30)
        cb = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {b}"}, timeout=30)
        yield ca, cb, engine, model
        ca.close()
        cb.close()
    engine.close()


PAIR = {"query": "Dinner ideas?", "response_a": "Steak", "response_b": "Lentil curry"}


def test_judge_for_a_user_of_the_callers_tenant(
    api: tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel],
) -> None:
    a, _, engine, model = api
    a.post("/v1/events", json={"events": [{"user_id": "ana", "role": "user", "text": "I am vegetarian"}]})
    model.replies.extend(["No", "Yes", VERDICT])  # steak does not fit, the curry does
    r = a.post("/v1/judge", json={**PAIR, "user": "ana"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["winner"] == "b" and body["method"] == "pointwise" and body["verbal_confidence"] == 7
    assert len(body["relied_on"]) == 1 and "vegetarian" in body["relied_on"][0].lower()
    assert "vegetarian" in model.calls[0][0].content.lower()


def test_another_tenants_user_is_not_found_and_never_read(
    api: tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel],
) -> None:
    a, b, _, model = api
    b.post("/v1/events", json={"events": [{"user_id": "bob", "role": "user", "text": "globex secret: I love steak"}]})
    r = a.post("/v1/judge", json={**PAIR, "user": "bob"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "secret" not in r.text and model.calls == []
    assert b.post("/v1/judge", json={**PAIR, "user": "bob", "explain": False}).status_code == 200


@pytest.mark.parametrize(
    "body,field",
    [
        ({"query": "q", "response_a": "x"}, "response_b"),
        ({**PAIR, "response_a": ""}, "response_a"),
        ({**PAIR, "response_b": "y" * 8001}, "response_b"),
        ({**PAIR, "persona": "p" * 4001}, "persona"),
        ({**PAIR, "user": "a/b"}, "user"),
        ({**PAIR, "threshold": 0.2}, "threshold"),
        ({**PAIR, "extra": 1}, "extra"),
        ({**PAIR, "method": "both"}, "method"),
    ],
)
def test_bad_requests_are_422_with_the_field(
    api: tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel], body: dict[str, object], field: str
) -> None:
    a, _, _, model = api
    r = a.post("/v1/judge", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input" and field in r.text
    assert model.calls == []


def test_a_persona_without_a_user(api: tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel]) -> None:
    a, _, _, model = api
    model.replies.extend(["Yes", "Yes"])  # both fit as well: a tie
    r = a.post("/v1/judge", json={**PAIR, "persona": "Loves steak", "explain": False, "threshold": 0.6})
    body = r.json()
    assert r.status_code == 200 and body["winner"] == "tie" and body["abstained"]
    assert "Loves steak" in model.calls[0][0].content


def test_the_pairwise_method_reads_the_pair_in_both_orders(
    api: tuple[httpx.Client, httpx.Client, Engine, ScriptedChatModel],
) -> None:
    a, _, _, model = api
    model.replies.extend(["B", "A"])  # curry second, then curry first: the same choice both times
    r = a.post("/v1/judge", json={**PAIR, "persona": "I am vegetarian", "explain": False, "method": "pairwise"})
    body = r.json()
    assert r.status_code == 200 and body["method"] == "pairwise" and body["winner"] == "b"
    assert len(model.calls) == 2
    first, second = (c[-1].content for c in model.calls)
    assert first.index("Steak") < first.index("Lentil curry") and second.index("Lentil curry") < second.index("Steak")
