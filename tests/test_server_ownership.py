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
