"""Sensitive-category settings and the audit log of their uses, on every backend.

The settings are one set per user, replaced whole; the log is append-only and paged by
id. Both belong to one user of one tenant: never read through another scope.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tailored.store import Scope, Store
from tailored.types import SensitiveUse

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ANA = Scope("t1", "ana")
BO = Scope("t1", "bo")
ANA_T2 = Scope("t2", "ana")


def use(n: int, *, source: str = "memory", categories: tuple[str, ...] = ("medication",)) -> SensitiveUse:
    return SensitiveUse.model_validate(
        {
            "at": T0 + timedelta(minutes=n),
            "purpose": "context",
            "source": source,
            "item_id": n,
            "categories": list(categories),
            "query": f"request {n}",
        }
    )


def test_settings_are_replaced_whole_and_kept_per_user(store: Store) -> None:
    assert store.sensitive_off(ANA) == []
    store.set_sensitive_off(ANA, ["medication", "health_condition", "medication"], at=T0)
    store.set_sensitive_off(BO, ["all"], at=T0)
    assert store.sensitive_off(ANA) == ["health_condition", "medication"]
    assert store.sensitive_off(BO) == ["all"]
    assert store.sensitive_off(ANA_T2) == []
    store.set_sensitive_off(ANA, ["pregnancy"], at=T0 + timedelta(days=1))
    assert store.sensitive_off(ANA) == ["pregnancy"]
    store.set_sensitive_off(ANA, [], at=T0 + timedelta(days=2))
    assert store.sensitive_off(ANA) == []
    assert store.sensitive_off(BO) == ["all"]


def test_the_log_is_appended_and_paged_by_id_per_user(store: Store) -> None:
    store.log_sensitive_uses(ANA, [use(1), use(2, source="event", categories=("pregnancy", "medication"))])
    store.log_sensitive_uses(BO, [use(7)])
    store.log_sensitive_uses(ANA_T2, [use(8)])
    store.log_sensitive_uses(ANA, [use(3)])
    store.log_sensitive_uses(ANA, [])
    got = store.sensitive_uses(ANA)
    assert [(u.item_id, u.source, u.categories, u.query) for u in got] == [
        (1, "memory", ["medication"], "request 1"),
        (2, "event", ["pregnancy", "medication"], "request 2"),
        (3, "memory", ["medication"], "request 3"),
    ]
    assert got[0].at == T0 + timedelta(minutes=1)
    assert got[0].id < got[1].id < got[2].id
    page = store.sensitive_uses(ANA, limit=2)
    assert [u.item_id for u in page] == [1, 2]
    assert [u.item_id for u in store.sensitive_uses(ANA, after_id=page[-1].id)] == [3]
    assert [u.item_id for u in store.sensitive_uses(BO)] == [7]
    assert [u.item_id for u in store.sensitive_uses(ANA_T2)] == [8]


def test_erasing_one_user_keeps_the_others_settings_and_log(store: Store) -> None:
    store.add_events("t1", [])
    store.set_sensitive_off(ANA, ["all"], at=T0)
    store.set_sensitive_off(BO, ["disability"], at=T0)
    store.log_sensitive_uses(ANA, [use(1)])
    store.log_sensitive_uses(BO, [use(2)])
    store.erase_user(ANA)
    assert store.sensitive_off(ANA) == [] and store.sensitive_uses(ANA) == []
    assert store.sensitive_off(BO) == ["disability"]
    assert [u.item_id for u in store.sensitive_uses(BO)] == [2]
