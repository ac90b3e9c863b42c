"""Catalogue items and interaction reads on every backend (see conftest.py).

Items are the tenant's; interactions are events with the item id in the payload, so a
user's export and erase cover them with no extra part.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tailored import Engine
from tailored.errors import TailoredError
from tailored.store import Scope, Store
from tailored.testing import HashEmbedder
from tailored.types import INTERACTION_KINDS, CatalogItem, EventIn

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(i: str, title: str = "", **attrs: object) -> CatalogItem:
    return CatalogItem(id=i, title=title or f"Item {i}", text=f"about {i}", attributes=dict(attrs))


def rating(user: str, it: str, value: float | None, day: int, kind: str = "rating") -> EventIn:
    payload: dict[str, object] = {"item": it}
    if value is not None:
        payload["rating"] = value
    return EventIn(user_id=user, kind=kind, text=f"{kind} {it}", time=T0 + timedelta(days=day), payload=payload)


def test_items_are_upserted_per_tenant_and_read_by_id(store: Store) -> None:
    assert store.put_catalog_items("t1", [item("b", genres=["Drama"]), item("a"), item("c")]) == 3
    store.put_catalog_items("t2", [item("a", "Other tenant's a")])
    store.put_catalog_items("t1", [item("a", "Renamed")])
    assert store.catalog_count("t1") == 3
    assert store.catalog_count("t2") == 1
    items = store.catalog_items("t1")
    assert [i.id for i in items] == ["a", "b", "c"]
    assert items[0].title == "Renamed"
    assert items[1].attributes == {"genres": ["Drama"]}
    assert [i.id for i in store.catalog_items("t1", ids=["c", "zz", "a"])] == ["a", "c"]
    assert [i.id for i in store.catalog_items("t1", limit=2, after="a")] == ["b", "c"]
    assert store.catalog_items("t2")[0].title == "Other tenant's a"
    assert store.delete_catalog_items("t1", ["a", "nope"]) == 1
    assert store.catalog_count("t1") == 2
    assert store.catalog_count("t2") == 1


def test_a_failed_batch_of_items_stores_none(store: Store) -> None:
    with pytest.raises(TailoredError):
        with store.transaction():
            store.put_catalog_items("t1", [item("a"), item("b")])
            raise TailoredError("stop")
    assert store.catalog_count("t1") == 0


def test_interactions_are_events_read_tenant_wide_in_time_order(store: Store) -> None:
    store.add_events(
        "t1",
        [
            rating("ana", "b", 4.5, 2),
            rating("bo", "a", None, 1, kind="click"),
            rating("ana", "a", 3.0, 0),
            EventIn(user_id="ana", text="a plain message", time=T0),
            EventIn(user_id="ana", kind="rating", text="no item", time=T0, payload={"rating": 2}),
            rating("cy", "a", 5.0, 3, kind="purchase"),
        ],
    )
    store.add_events("t2", [rating("ana", "zz", 1.0, 0)])
    got = store.interactions("t1", INTERACTION_KINDS)
    assert [(i.user_id, i.item_id, i.kind, i.rating) for i in got] == [
        ("ana", "a", "rating", 3.0),
        ("bo", "a", "click", None),
        ("ana", "b", "rating", 4.5),
        ("cy", "a", "purchase", 5.0),
    ]
    assert got[0].time_us < got[1].time_us
    assert [i.item_id for i in store.interactions("t1", ["rating"], user_id="ana")] == ["a", "b"]
    assert [i.item_id for i in store.interactions("t2", INTERACTION_KINDS)] == ["zz"]


def test_erase_and_export_cover_a_users_interactions(store: Store) -> None:
    eng = Engine(store, tenant="t1", embedder=HashEmbedder())
    store.put_catalog_items("t1", [item("a"), item("b")])
    eng.add([rating("ana", "a", 4.0, 0), rating("ana", "b", 2.0, 1), rating("bo", "a", 5.0, 0)], embed=False)
    exported = eng.export("ana")
    assert sorted(e.payload["item"] for e in exported.events if e.payload) == ["a", "b"]
    eng.erase("ana")
    assert [i.user_id for i in store.interactions("t1", INTERACTION_KINDS)] == ["bo"]
    assert store.catalog_count("t1") == 2  # the catalogue is the tenant's, not the user's
    assert store.user_stats(Scope("t1", "ana")) is None
