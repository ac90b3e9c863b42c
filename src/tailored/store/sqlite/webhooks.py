"""The webhook tables of the SQLite store: registrations, the outbox and the delivery log.

A mixin of ``SQLiteStore`` (it uses its ``_read`` and ``_write``). Events are enqueued by
``announce_change`` and ``announce_erase``, which the memory and erase code call with the
write connection of the change itself: the announcement commits with the change, or
neither does. Workers claim deliveries under the file's write lock (``BEGIN IMMEDIATE``)
with ``UPDATE ... WHERE`` the lease is free or expired, so two workers, in one process or
several, never hold one delivery at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...errors import InvalidInput, NotFound
from ...types import Memory, utcnow
from ..base import Scope
from ..outbox import (
    Delivery,
    DeliveryStatus,
    DueDelivery,
    StoredWebhook,
    Webhook,
    dump_data,
    envelope,
    erased_event_data,
    event_for,
    event_id,
    memory_event_data,
    subscribed,
)
from .codec import dt, us

Row = tuple[Any, ...]

_DELIVERY_COLS = (
    "d.id, d.webhook_id, d.event_id, e.type, d.user_id, d.status, d.attempts, d.last_status_code, d.last_error,"
    " d.created_us, d.next_us, d.delivered_us"
)


def _row_webhook(r: Row) -> Webhook:
    return Webhook(id=r[0], tenant=r[1], url=r[2], events=r[3].split(","), created_at=dt(r[4]))


def _row_delivery(r: Row) -> Delivery:
    return Delivery(
        id=r[0],
        webhook_id=r[1],
        event_id=event_id(r[2]),
        event_type=r[3],
        user_id=r[4],
        status=r[5],
        attempts=r[6],
        last_status_code=r[7],
        last_error=r[8],
        created_at=dt(r[9]),
        next_attempt_at=dt(r[10]) if r[10] is not None else None,
        delivered_at=dt(r[11]) if r[11] is not None else None,
    )


def _enqueue(conn: sqlite3.Connection, scope: Scope, event_type: str, data: dict[str, Any] | None) -> None:
    """One event for every registration of the tenant subscribed to ``event_type``;
    nothing at all when there is none (``data`` is built only then)."""
    hooks = [
        r[0]
        for r in conn.execute("SELECT id, events FROM webhooks WHERE tenant = ?", (scope.tenant,))
        if subscribed(r[1], event_type)
    ]
    if not hooks or data is None:
        return
    now = us(utcnow())
    cur = conn.execute(
        "INSERT INTO webhook_events (tenant, user_id, type, data, created_us) VALUES (?, ?, ?, ?, ?)",
        (scope.tenant, scope.user_id, event_type, dump_data(data), now),
    )
    conn.executemany(
        "INSERT INTO webhook_deliveries (tenant, user_id, webhook_id, event_id, status, next_us, created_us)"
        " VALUES (?, ?, ?, ?, 'pending', ?, ?)",
        [(scope.tenant, scope.user_id, hook, cur.lastrowid, now, now) for hook in hooks],
    )


def has_subscribers(conn: sqlite3.Connection, tenant: str) -> bool:
    return conn.execute("SELECT 1 FROM webhooks WHERE tenant = ? LIMIT 1", (tenant,)).fetchone() is not None


def announce_change(
    conn: sqlite3.Connection,
    scope: Scope,
    memory: Callable[[], Memory | None],
    action: str,
    *,
    at: datetime,
    detail: str,
    other_id: int | None,
) -> None:
    """Enqueue the event a logged change announces (called inside ``log_change``'s write).
    ``memory`` reads the memory as changed, only when some registration will get it."""
    event_type = event_for(action)
    if event_type is None or not has_subscribers(conn, scope.tenant):
        return
    current = memory()
    if current is not None:
        data = memory_event_data(current, action, at=at, detail=detail, other_id=other_id)
        _enqueue(conn, scope, event_type, data)


def announce_erase(conn: sqlite3.Connection, scope: Scope, events_removed: int) -> None:
    """Inside ``erase_user``'s transaction: drop every queued and logged event of the user
    (their data held the user's memories), then enqueue ``user.erased``, ids only."""
    conn.execute("DELETE FROM webhook_deliveries WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
    conn.execute("DELETE FROM webhook_events WHERE tenant = ? AND user_id = ?", (scope.tenant, scope.user_id))
    _enqueue(conn, scope, "user.erased", erased_event_data(events_removed))


class WebhookTables:
    """Mixed into ``SQLiteStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def add_webhook(self, stored: StoredWebhook) -> bool:
        w = stored.webhook
        with self._write("cannot store the webhook") as conn:
            cur = conn.execute(
                "INSERT INTO webhooks (id, tenant, url, secret, events, created_us) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (w.id, w.tenant, w.url, stored.secret, ",".join(w.events), us(w.created_at)),
            )
            return cur.rowcount == 1

    def webhooks(self, tenant: str) -> list[Webhook]:
        rows = self._read(
            "SELECT id, tenant, url, events, created_us FROM webhooks WHERE tenant = ? ORDER BY created_us, id",
            (tenant,),
        )
        return [_row_webhook(r) for r in rows]

    def stored_webhooks(self, tenant: str) -> list[StoredWebhook]:
        rows = self._read(
            "SELECT id, tenant, url, events, created_us, secret FROM webhooks WHERE tenant = ? ORDER BY created_us, id",
            (tenant,),
        )
        return [StoredWebhook(_row_webhook(r), r[5]) for r in rows]

    def remove_webhook(self, tenant: str, webhook_id: str) -> bool:
        with self._write("cannot remove the webhook") as conn:
            if conn.execute("DELETE FROM webhooks WHERE tenant = ? AND id = ?", (tenant, webhook_id)).rowcount == 0:
                return False
            conn.execute("DELETE FROM webhook_deliveries WHERE tenant = ? AND webhook_id = ?", (tenant, webhook_id))
            conn.execute(
                "DELETE FROM webhook_events WHERE tenant = ?1 AND id NOT IN"
                " (SELECT event_id FROM webhook_deliveries WHERE tenant = ?1)",
                (tenant,),
            )
            return True

    def claim_deliveries(self, owner: str, *, now: datetime, lease_s: float, limit: int) -> list[DueDelivery]:
        now_us = us(now)
        due = "status = 'pending' AND next_us <= ?1 AND (lease_until_us IS NULL OR lease_until_us <= ?1)"
        # A read first: an idle worker polls without taking the file's write lock.
        if not self._read(f"SELECT 1 FROM webhook_deliveries WHERE {due} LIMIT 1", (now_us,)):
            return []
        with self._write("cannot claim deliveries") as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM webhook_deliveries WHERE {due} ORDER BY next_us, id LIMIT ?2", (now_us, limit)
                )
            ]
            claimed = [
                i
                for i in ids
                if conn.execute(
                    f"UPDATE webhook_deliveries SET lease_owner = ?3, lease_until_us = ?4 WHERE id = ?2 AND {due}",
                    (now_us, i, owner, now_us + int(lease_s * 1_000_000)),
                ).rowcount
                == 1
            ]
            if not claimed:
                return []
            rows = conn.execute(
                "SELECT d.id, d.webhook_id, w.url, w.secret, e.id, e.type, e.tenant, e.user_id, e.created_us, e.data,"
                " d.attempts FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " JOIN webhook_events e ON e.id = d.event_id"
                f" WHERE d.id IN ({','.join('?' * len(claimed))}) ORDER BY d.next_us, d.id",
                claimed,
            ).fetchall()
        return [
            DueDelivery(
                id=r[0],
                webhook_id=r[1],
                url=r[2],
                secret=r[3],
                event_id=event_id(r[4]),
                event_type=r[5],
                body=envelope(r[4], r[5], r[6], r[7], dt(r[8]), r[9]),
                attempts=r[10],
            )
            for r in rows
        ]

    def finish_delivery(
        self,
        delivery_id: int,
        owner: str,
        *,
        at: datetime,
        delivered: bool,
        status_code: int | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> bool:
        status = "delivered" if delivered else "pending" if retry_at is not None else "failed"
        with self._write("cannot record the delivery") as conn:
            cur = conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_status_code = ?,"
                " last_error = ?, next_us = ?, delivered_us = ?, lease_owner = NULL, lease_until_us = NULL"
                " WHERE id = ? AND lease_owner = ? AND status = 'pending'",
                (
                    status,
                    status_code,
                    error,
                    us(retry_at) if status == "pending" and retry_at is not None else None,
                    us(at) if delivered else None,
                    delivery_id,
                    owner,
                ),
            )
            return cur.rowcount == 1

    def deliveries(
        self,
        tenant: str,
        *,
        status: DeliveryStatus | None = None,
        webhook_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[Delivery]:
        sql = (
            f"SELECT {_DELIVERY_COLS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id"
            " WHERE d.tenant = ? AND d.id > ?"
        )
        params: list[object] = [tenant, after_id]
        if status is not None:
            sql += " AND d.status = ?"
            params.append(status)
        if webhook_id is not None:
            sql += " AND d.webhook_id = ?"
            params.append(webhook_id)
        params.append(limit)
        return [_row_delivery(r) for r in self._read(sql + " ORDER BY d.id LIMIT ?", params)]

    def replay_deliveries(self, tenant: str, delivery_id: int | None, *, at: datetime) -> list[int]:
        with self._write("cannot replay") as conn:
            if delivery_id is None:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM webhook_deliveries WHERE tenant = ? AND status = 'failed' ORDER BY id",
                        (tenant,),
                    )
                ]
            else:
                row = conn.execute(
                    "SELECT status FROM webhook_deliveries WHERE tenant = ? AND id = ?", (tenant, delivery_id)
                ).fetchone()
                if row is None:
                    raise NotFound(f"no delivery {delivery_id}")
                if row[0] == "pending":
                    raise InvalidInput(f"delivery {delivery_id} is still pending: it will be attempted again")
                ids = [delivery_id]
            new: list[int] = []
            for i in ids:
                cur = conn.execute(
                    "INSERT INTO webhook_deliveries (tenant, user_id, webhook_id, event_id, status, next_us, created_us)"
                    " SELECT tenant, user_id, webhook_id, event_id, 'pending', ?, ? FROM webhook_deliveries WHERE id = ?",
                    (us(at), us(at), i),
                )
                new.append(int(cur.lastrowid or 0))
                conn.execute("UPDATE webhook_deliveries SET status = 'replayed' WHERE id = ?", (i,))
            return new
