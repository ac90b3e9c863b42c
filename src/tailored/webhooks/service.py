"""``Webhooks``: a tenant's registrations, its delivery log and replays.

The secret signs every delivery, so unlike an API key it is stored as is (a receiver
checks the signature with the same secret). It is shown once, when the webhook is
created; lists never show it. To rotate it, add a new webhook and remove the old one.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Sequence

from ..errors import InvalidInput, NotFound
from ..store import Store
from ..store.outbox import WEBHOOK_EVENTS, Delivery, DeliveryStatus, StoredWebhook, Webhook, WebhookEventType
from ..types import utcnow
from .urls import check_url

MAX_PER_TENANT = 20
MIN_SECRET = 16
SECRET_PREFIX = "whsec_"


class Webhooks:
    """Webhooks of the tenants of ``store``; every call names its tenant.

    Examples
    --------
    >>> hooks = Webhooks(store, allow_private=True)
    >>> hook, secret = hooks.add("acme", "http://127.0.0.1:9000/hook", events=["memory.created"])
    >>> [w.url for w in hooks.list("acme")]
    ['http://127.0.0.1:9000/hook']
    """

    def __init__(self, store: Store, *, allow_private: bool = False) -> None:
        self.store = store
        self.allow_private = allow_private

    def add(
        self, tenant: str, url: str, *, events: Sequence[str] | None = None, secret: str | None = None
    ) -> tuple[Webhook, str]:
        """Register ``url`` for ``events`` (all five when None); returns the record and the
        secret (``secret``, or a new random one), which signs every delivery.

        Raises
        ------
        InvalidInput
            A URL ``check_url`` refuses, an unknown event, a secret under 16 characters, or
            the tenant has ``MAX_PER_TENANT`` webhooks already.
        """
        check_url(url, allow_private=self.allow_private)
        chosen = list(dict.fromkeys(events)) if events is not None else list(WEBHOOK_EVENTS)
        unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
        if unknown or not chosen:
            raise InvalidInput(f"unknown webhook events {unknown or chosen}; choose among {', '.join(WEBHOOK_EVENTS)}")
        if secret is not None and (len(secret) < MIN_SECRET or not secret.isprintable() or "," in secret):
            raise InvalidInput(f"a webhook secret must be at least {MIN_SECRET} printable characters, without ','")
        if len(self.store.webhooks(tenant)) >= MAX_PER_TENANT:
            raise InvalidInput(f"tenant {tenant!r} has {MAX_PER_TENANT} webhooks already; remove one first")
        typed: list[WebhookEventType] = [e for e in WEBHOOK_EVENTS if e in chosen]
        webhook = Webhook(id="wh_" + secrets.token_hex(8), tenant=tenant, url=url, events=typed, created_at=utcnow())
        key = secret or SECRET_PREFIX + secrets.token_urlsafe(24)
        if not self.store.add_webhook(StoredWebhook(webhook, key)):
            raise InvalidInput("webhook id collision; try again")
        return webhook, key

    def list(self, tenant: str) -> list[Webhook]:
        return self.store.webhooks(tenant)

    def remove(self, tenant: str, webhook_id: str) -> None:
        """Remove a webhook of ``tenant``, with its queued deliveries and its log.

        Raises
        ------
        NotFound
            The tenant has no such webhook.
        """
        if not self.store.remove_webhook(tenant, webhook_id):
            raise NotFound(f"no webhook {webhook_id!r}")

    def deliveries(
        self,
        tenant: str,
        *,
        status: DeliveryStatus | None = None,
        webhook_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> builtins.list[Delivery]:
        """A page of the tenant's delivery log (attempts, last status code, last error)."""
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be 1-10000")
        return self.store.deliveries(tenant, status=status, webhook_id=webhook_id, limit=limit, after_id=after_id)

    def replay(self, tenant: str, delivery_id: int | None = None) -> builtins.list[int]:
        """Send one delivery again (any that is not pending), or with None every failed
        one of the tenant; returns the new deliveries' ids. The body is the same, so a
        receiver that already has the event recognises it by its id."""
        return self.store.replay_deliveries(tenant, delivery_id, at=utcnow())
