"""The webhook tables of the PostgreSQL store: registrations, the outbox and the delivery log.

A mixin of ``PostgresStore`` (it uses its ``_read`` and ``_write``). Events are enqueued by
``announce_change`` and ``announce_erase`` on the connection of the change itself, so the
announcement commits with the change or not at all. Workers, in any number of processes,
claim due deliveries with ``FOR UPDATE SKIP LOCKED`` and write a lease (owner and expiry):
two workers never hold one delivery at once, and one that dies leaves its deliveries to be
claimed again once the lease has run out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
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
from .migrations import Conn

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

_DELIVERY_COLS = (
    "d.id, d.webhook_id, d.event_id, e.type, d.user_id, d.status, d.attempts, d.last_status_code, d.last_error,"
    " d.created_at, d.next_at, d.delivered_at"
)
_DUE = "status = 'pending' AND next_at <= %(now)s AND (lease_until IS NULL OR lease_until <= %(now)s)"


def _row_webhook(r: Row) -> Webhook:
    return Webhook(id=r[0], tenant=r[1], url=r[2], events=r[3].split(","), created_at=r[4])


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
        created_at=r[9],
        next_attempt_at=r[10],
        delivered_at=r[11],
    )


def _hooks(conn: Conn, tenant: str, event_type: str) -> list[str]:
    rows = conn.execute("SELECT id, events FROM webhooks WHERE tenant = %s", (tenant,)).fetchall()
    return [r[0] for r in rows if subscribed(r[1], event_type)]


def _enqueue(conn: Conn, scope: Scope, hooks: list[str], event_type: str, data: dict[str, Any]) -> None:
    now = utcnow()
    row = conn.execute(
        "INSERT INTO webhook_events (tenant, user_id, type, data, created_at) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (scope.tenant, scope.user_id, event_type, dump_data(data), now),
    ).fetchone()
    assert row is not None
    conn.cursor().executemany(
        "INSERT INTO webhook_deliveries (tenant, user_id, webhook_id, event_id, status, next_at, created_at)"
        " VALUES (%s, %s, %s, %s, 'pending', %s, %s)",
        [(scope.tenant, scope.user_id, hook, row[0], now, now) for hook in hooks],
    )


def announce_change(
    conn: Conn,
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
    if event_type is None:
        return
    hooks = _hooks(conn, scope.tenant, event_type)
    current = memory() if hooks else None
    if current is not None:
        data = memory_event_data(current, action, at=at, detail=detail, other_id=other_id)
        _enqueue(conn, scope, hooks, event_type, data)


def announce_erase(conn: Conn, scope: Scope, events_removed: int) -> None:
    """Inside ``erase_user``'s transaction, after the user's rows (queued and logged events
    among them: ``USER_TABLES``) are deleted: enqueue ``user.erased``, ids only."""
    hooks = _hooks(conn, scope.tenant, "user.erased")
    if hooks:
        _enqueue(conn, scope, hooks, "user.erased", erased_event_data(events_removed))


class WebhookTables:
    """Mixed into ``PostgresStore``, which provides ``_read`` and ``_write``."""

    def _read(self, sql: str, params: Params = (), *, binary: bool = False) -> list[Row]:
        raise NotImplementedError

    def _write(self, action: str = "write failed") -> AbstractContextManager[Conn]:
        raise NotImplementedError

    def add_webhook(self, stored: StoredWebhook) -> bool:
        w = stored.webhook
        with self._write("cannot store the webhook") as conn:
            cur = conn.execute(
                "INSERT INTO webhooks (id, tenant, url, secret, events, created_at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO NOTHING",
                (w.id, w.tenant, w.url, stored.secret, ",".join(w.events), w.created_at),
            )
            return cur.rowcount == 1

    def webhooks(self, tenant: str) -> list[Webhook]:
        rows = self._read(
            "SELECT id, tenant, url, events, created_at FROM webhooks WHERE tenant = %s ORDER BY created_at, id",
            (tenant,),
        )
        return [_row_webhook(r) for r in rows]

    def stored_webhooks(self, tenant: str) -> list[StoredWebhook]:
        rows = self._read(
            "SELECT id, tenant, url, events, created_at, secret FROM webhooks WHERE tenant = %s"
            " ORDER BY created_at, id",
            (tenant,),
        )
        return [StoredWebhook(_row_webhook(r), r[5]) for r in rows]

    def remove_webhook(self, tenant: str, webhook_id: str) -> bool:
        with self._write("cannot remove the webhook") as conn:
            if conn.execute("DELETE FROM webhooks WHERE tenant = %s AND id = %s", (tenant, webhook_id)).rowcount == 0:
                return False
            conn.execute("DELETE FROM webhook_deliveries WHERE tenant = %s AND webhook_id = %s", (tenant, webhook_id))
            conn.execute(
                "DELETE FROM webhook_events e WHERE e.tenant = %s AND NOT EXISTS"
                " (SELECT 1 FROM webhook_deliveries d WHERE d.tenant = e.tenant AND d.event_id = e.id)",
                (tenant,),
            )
            return True

    def claim_deliveries(self, owner: str, *, now: datetime, lease_s: float, limit: int) -> list[DueDelivery]:
        params = {"now": now, "owner": owner, "until": now + timedelta(seconds=lease_s), "limit": limit}
        # A read first: an idle worker polls without opening a write transaction.
        if not self._read(f"SELECT 1 FROM webhook_deliveries WHERE {_DUE} LIMIT 1", params):
            return []
        with self._write("cannot claim deliveries") as conn:
            claimed = [
                r[0]
                for r in conn.execute(
                    f"WITH due AS (SELECT id FROM webhook_deliveries WHERE {_DUE} ORDER BY next_at, id"
                    " LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
                    " UPDATE webhook_deliveries d SET lease_owner = %(owner)s, lease_until = %(until)s"
                    " FROM due WHERE d.id = due.id RETURNING d.id",
                    params,
                )
            ]
            if not claimed:
                return []
            rows = conn.execute(
                "SELECT d.id, d.webhook_id, w.url, w.secret, e.id, e.type, e.tenant, e.user_id, e.created_at, e.data,"
                " d.attempts FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
                " JOIN webhook_events e ON e.id = d.event_id WHERE d.id = ANY(%s) ORDER BY d.next_at, d.id",
                (claimed,),
            ).fetchall()
        return [
            DueDelivery(
                id=r[0],
                webhook_id=r[1],
                url=r[2],
                secret=r[3],
                event_id=event_id(r[4]),
                event_type=r[5],
                body=envelope(r[4], r[5], r[6], r[7], r[8], r[9]),
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
                "UPDATE webhook_deliveries SET status = %s, attempts = attempts + 1, last_status_code = %s,"
                " last_error = %s, next_at = %s, delivered_at = %s, lease_owner = NULL, lease_until = NULL"
                " WHERE id = %s AND lease_owner = %s AND status = 'pending'",
                (
                    status,
                    status_code,
                    error,
                    retry_at if status == "pending" else None,
                    at if delivered else None,
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
            " WHERE d.tenant = %s AND d.id > %s"
        )
        params: list[object] = [tenant, after_id]
        if status is not None:
            sql += " AND d.status = %s"
            params.append(status)
        if webhook_id is not None:
            sql += " AND d.webhook_id = %s"
            params.append(webhook_id)
        params.append(limit)
        return [_row_delivery(r) for r in self._read(sql + " ORDER BY d.id LIMIT %s", params)]

    def replay_deliveries(self, tenant: str, delivery_id: int | None, *, at: datetime) -> list[int]:
        with self._write("cannot replay") as conn:
            if delivery_id is None:
                ids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM webhook_deliveries WHERE tenant = %s AND status = 'failed' ORDER BY id FOR UPDATE",
                        (tenant,),
                    )
                ]
            else:
                row = conn.execute(
                    "SELECT status FROM webhook_deliveries WHERE tenant = %s AND id = %s FOR UPDATE",
                    (tenant, delivery_id),
                ).fetchone()
                if row is None:
                    raise NotFound(f"no delivery {delivery_id}")
                if row[0] == "pending":
                    raise InvalidInput(f"delivery {delivery_id} is still pending: it will be attempted again")
                ids = [delivery_id]
            new: list[int] = []
            for i in ids:
                got = conn.execute(
                    "INSERT INTO webhook_deliveries (tenant, user_id, webhook_id, event_id, status, next_at, created_at)"
                    " SELECT tenant, user_id, webhook_id, event_id, 'pending', %s, %s FROM webhook_deliveries"
                    " WHERE id = %s RETURNING id",
                    (at, at, i),
                ).fetchone()
                assert got is not None
                new.append(int(got[0]))
                conn.execute("UPDATE webhook_deliveries SET status = 'replayed' WHERE id = %s", (i,))
            return new
